"""Word lists and district profiles for the invented Hangzhou demo (``songjiao demo``).

Everything personal here is invented: names are drawn from common surnames and given names,
places from syllables that make plausible but fictitious towns and villages, and phone numbers
from the 1380000xxxx block. District codes, names and centroids are those of domain.md.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DistrictProfile:
    code: str
    name: str
    lat: float
    lon: float
    area: str  # "urban" | "suburban" | "hills" | "county": how far apart things are
    schools: int  # ordinary schools
    children: int  # compulsory-stage disabled children on roll
    home_share: float  # share placed in 送教上门; 0.05 or less stays within the default cap
    coverage: str  # "full" | "mixed" | "poor": how well itinerant guidance reaches schools
    reviewing: bool  # whether the coordinator has started reviewing this term's visits


DISTRICTS = (
    DistrictProfile("330102", "上城区", 30.24, 120.17, "urban", 16, 140, 0.035, "full", True),
    DistrictProfile("330105", "拱墅区", 30.32, 120.14, "urban", 18, 165, 0.04, "mixed", True),
    DistrictProfile("330106", "西湖区", 30.26, 120.13, "urban", 18, 150, 0.045, "mixed", True),
    DistrictProfile("330108", "滨江区", 30.21, 120.21, "urban", 12, 95, 0.04, "full", True),
    DistrictProfile("330109", "萧山区", 30.18, 120.26, "suburban", 20, 200, 0.05, "mixed", True),
    DistrictProfile("330110", "余杭区", 30.40, 119.98, "suburban", 18, 175, 0.04, "mixed", True),
    DistrictProfile("330111", "富阳区", 30.05, 119.96, "suburban", 12, 120, 0.05, "mixed", True),
    DistrictProfile("330112", "临安区", 30.23, 119.72, "hills", 10, 105, 0.075, "poor", True),
    DistrictProfile("330113", "临平区", 30.42, 120.30, "suburban", 14, 130, 0.04, "mixed", True),
    DistrictProfile("330114", "钱塘区", 30.30, 120.45, "suburban", 12, 100, 0.05, "mixed", False),
    DistrictProfile("330122", "桐庐县", 29.80, 119.69, "county", 9, 85, 0.05, "mixed", True),
    DistrictProfile("330127", "淳安县", 29.61, 119.04, "county", 10, 115, 0.11, "poor", False),
    DistrictProfile("330182", "建德市", 29.47, 119.28, "county", 9, 95, 0.09, "poor", True),
)

# km from the district centroid: (ordinary schools, homes of children taught at home)
SPREAD_KM = {
    "urban": ((0.5, 5.0), (1.0, 7.0)),
    "suburban": ((1.0, 12.0), (2.0, 15.0)),
    "hills": ((2.0, 25.0), (5.0, 28.0)),
    "county": ((15.0, 40.0), (10.0, 40.0)),  # plus two schools in the county seat
}
# Chance per visit of weak evidence: (check-in 1-3 km away, no GPS, accuracy ~300 m)
WEAK_EVIDENCE = {
    "urban": (0.015, 0.015, 0.02),
    "suburban": (0.02, 0.03, 0.03),
    "hills": (0.03, 0.06, 0.04),
    "county": (0.04, 0.09, 0.05),
}
# How often a child taught at home gets the standard: (meets, weekly, sparse)
SERVICE_PROFILES = {
    "urban": (0.6, 0.3, 0.1),
    "suburban": (0.5, 0.35, 0.15),
    "hills": (0.4, 0.35, 0.25),
    "county": (0.35, 0.35, 0.3),
}
# Share of an instructor's schools visited 0, 1, 2, 3 times this term (the first two by quota)
ITINERANT_VISITS = {
    "full": (0.0, 0.0, 0.65, 0.35),
    "mixed": (0.05, 0.15, 0.55, 0.25),
    "poor": (0.15, 0.35, 0.4, 0.1),
}
UNASSIGNED_SCHOOLS = {"full": 0, "mixed": 1, "poor": 2}

SURNAMES = "王陈张李吴徐周沈朱方汪俞金胡杨钱孙郑何邵章叶楼蒋洪鲍余严姜黄刘赵施潘程童应盛毛夏许"
CHILD_GIVEN = (
    "子涵", "浩然", "梓萱", "一诺", "宇轩", "欣怡", "思远", "雨桐", "俊杰", "可馨", "博文",
    "诗琪", "子墨", "语嫣", "明轩", "若汐", "晨阳", "佳怡", "天佑", "梦琪", "嘉豪", "欣妍",
    "皓轩", "婉清", "睿", "航", "悦", "澄", "彤", "昊", "乐乐", "安琪", "俊熙", "思彤",
    "沐阳", "一鸣", "小雨", "宸",
)  # fmt: skip
ADULT_GIVEN = (
    "建国", "秀英", "丽华", "伟", "海燕", "志强", "美玲", "国平", "红梅", "永军", "春燕",
    "建华", "小芳", "卫东", "玉兰", "晓峰", "敏", "军", "霞", "静", "丽娟", "晓燕",
    "慧敏", "雅琴", "文杰", "振华", "佳琳", "海峰", "素芬", "立新", "桂香", "旭东", "雪梅",
    "国庆", "月红", "志刚",
)  # fmt: skip
PLACE_FIRST = "青石溪云枫桂竹梅荷柳松杏桃茶泉岩樟栗兰芦"
PLACE_SECOND = "岭坞坑源桥塘口湾山田滩埠畈坪林"

IEP_GOALS = (
    "能用勺子独立进食",
    "能在提示下洗手",
    "能自己穿脱开衫",
    "能用动作或声音表达如厕需求",
    "能用手势或图片表达需要",
    "听到名字能转头回应",
    "能仿说两字词语",
    "能用“要/不要”做选择",
    "能扶物站立一分钟",
    "能双手抓握并放下积木",
    "能在支撑下坐稳十分钟",
    "能独立上下三级台阶",
    "能指认三种常见颜色",
    "能点数 1 至 5",
    "能配对相同的图片",
    "能认出家庭成员的照片",
    "能与家人轮流玩简单游戏",
    "能听从一步指令",
    "情绪激动时能接受安抚",
    "能认识红绿灯等安全标志",
)
CONTENTS = (
    "进食训练：使用防滑碗和粗柄勺，练习舀取与送入口中",
    "精细动作：抓握积木、放入容器，逐步缩小积木尺寸",
    "沟通训练：用图片卡表达“喝水”“吃饭”“出去玩”",
    "认知训练：红黄蓝三色卡片指认与配对",
    "大运动：扶栏站立与重心转移，配合儿歌计时",
    "生活自理：拉链开衫穿脱分步练习",
    "感知觉训练：触觉刷与不同材质的触摸板",
    "数概念：点数实物 1 至 5，一一对应摆放",
    "社会交往：轮流拍球游戏，练习等待",
    "语言训练：看图仿说两字词语（苹果、小狗、妈妈）",
    "康复训练：坐姿保持与躯干控制",
    "安全教育：认识家中的危险物品和红绿灯图片",
    "音乐律动：跟随节拍拍手、摇铃",
    "绘本共读：指认图中人物和动物",
)
RESPONSES = (
    "能在提示下完成，注意力保持约十分钟",
    "情绪稳定，主动伸手取教具",
    "前半段配合较好，后半段出现疲劳",
    "能独立完成两次，较上周有进步",
    "对音乐反应积极，会跟着摇摆",
    "需要全程肢体辅助，能短暂注视教具",
    "出现哭闹，经安抚后继续完成部分内容",
    "能指认两种颜色，蓝色仍易混淆",
    "主动发出声音回应，眼神交流增多",
    "今日身体不适，训练时间缩短",
)
GUIDANCE = (
    "每天饭前练习用勺子舀取 5 次",
    "每天两次、每次 5 分钟扶站练习，注意保护",
    "日常生活中多用图片卡让孩子选择",
    "洗手时按步骤图逐步提示，逐渐减少帮助",
    "每天睡前共读绘本，鼓励孩子指认",
    "穿衣时留出最后一步让孩子自己完成",
    "孩子表达需求时及时回应并给予表扬",
    "保持作息规律，注意观察情绪变化并记录",
)
FINDINGS = (
    "随班就读学生课堂参与度较好，能完成部分学习任务",
    "资源教室已建立，但使用记录不完整",
    "个别化教育计划未按学期更新",
    "班主任对学生特点了解充分，同伴支持较好",
    "学生上课注意力易分散，需要更多视觉提示",
    "学校尚未配备专职资源教师",
    "作业分层做得较好，评价方式仍较单一",
    "家长对随班就读安排满意，希望增加个别辅导",
)
RECOMMENDATIONS = (
    "下学期初前完成个别化教育计划的修订",
    "每周安排不少于三课时的个别化支持",
    "完善资源教室使用登记",
    "在课堂上增加图片提示和任务分解",
    "组织一次面向任课教师的融合教育培训",
    "与家长约谈，共同确定本学期目标",
    "为学生安排固定的同伴助手",
)
REJECT_FAR = "签到位置距登记住址约两公里，且无照片佐证，请补充说明后重新提交"
REJECT_DUPLICATE = "同一学生同日重复记录，请删除其中一条"
