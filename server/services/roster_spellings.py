"""What an uploaded roster may say, in the words people write in their spreadsheets: column
headers, the Chinese words for a code, numbers and yes/no. This is input to recognise, not text the
system shows (that is in shared/messages.py), so it is the one roster module tests/test_catalogue.py
leaves out; roster_cells.py and roster_parse.py read it.
"""

# Per column, per code, the space-separated words meaning it (the codes themselves are accepted
# too: roster_cells.CHOICES).
CHOICE_WORDS: dict[str, dict[str, str]] = {
    "kind": dict(
        ordinary="普通 普通学校 普通中小学",
        special="特殊 特殊教育学校 特教学校 特校",
    ),
    "stage": dict(
        preschool="学前 学前教育 幼儿园",
        compulsory="义务教育 小学 初中",
        high_school="高中 高中阶段 中职",
    ),
    "placement": dict(
        regular_class="随班就读",
        special_class="特教班 卫星班 特殊教育班",
        special_school="特殊教育学校 特教学校 特校",
        home_delivery="送教上门 送教",
        institution="机构 福利机构 康复机构",
    ),
    "disability_category": dict(
        visual="视力 视力残疾",
        hearing="听力 听力残疾",
        speech="言语 言语残疾",
        physical="肢体 肢体残疾",
        intellectual="智力 智力残疾",
        mental="精神 精神残疾 孤独症 自闭症",  # autism is counted under 精神 (domain.md)
        multiple="多重 多重残疾",
    ),
    "role": dict(
        teacher="送教教师 送教老师",
        itinerant="巡回指导教师 巡回教师 巡回指导",
        coordinator="协调员",
        admin="管理员",
    ),
}

# THE alias table: canonical column -> the headers people write (compared after roster_parse._norm).
ALIASES: dict[str, tuple[str, ...]] = {
    "district_code": ("区县代码", "行政区划代码", "区划代码", "区县编码", "区县", "所属区县"),
    "district_name": ("区县名称",),
    "name": ("名称", "姓名"),
    "school_id": ("学校编号", "学校代码", "学校标识码"),
    "school_name": ("学校名称",),
    "kind": ("类型", "学校类型", "办学类型"),
    "lat": ("纬度", "latitude"),
    "lon": ("经度", "longitude", "lng"),
    "student_id": ("学生编号", "学籍号", "学籍编号"),
    "stage": ("学段",),
    "grade": ("年级",),
    "placement": ("安置方式", "安置形式"),
    "disability_category": ("残疾类别", "残疾类型"),
    "disability_grade": ("残疾等级",),
    "certified": ("持证", "是否持证"),
    "home_lat": ("家庭纬度",),
    "home_lon": ("家庭经度",),
    "address": ("家庭住址", "住址", "地址"),
    "guardian_name": ("监护人", "监护人姓名"),
    "guardian_phone": ("监护人电话", "监护人手机", "联系电话"),
    "photo_consent": ("照片同意", "同意拍照", "拍照同意"),
    "active": ("在籍", "是否在籍"),
    "username": ("用户名", "账号", "登录名"),
    "role": ("角色",),
    "base_school_id": ("所属学校", "所属学校编号", "基地学校"),
    "remove": ("删除", "移除"),
}
# Identity and certificate numbers are never read (domain.md, Privacy): a 残疾人证号 contains
# the ID number. Matched as substrings of the normalised header.
SENSITIVE_MARKS = ("证号", "身份证", "证件号", "id_number", "idnumber", "certificate", "id_card")

# Chinese numerals in 三年级, 初一, 一级.
CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
FLAG_WORDS = {"1": True, "是": True, "true": True, "yes": True, "0": False, "否": False}
FLAG_WORDS |= {"false": False, "no": False}
GRADE_SUFFIX = "年级"  # 3年级
LEVEL_SUFFIX = "级"  # 一级, 1级
# 初一..初三 are grades 7-9, 高一..高三 10-12.
GRADE_PREFIXES = (("初", 6), ("高", 9))
# Dropped from a header before it is compared: spaces, the asterisks of required columns and
# colons, half- or full-width.
HEADER_NOISE = r"[\s*＊:：]"
# A bracketed remark after a header, such as "纬度（WGS84）" or "姓名(必填)".
HEADER_REMARK = r"[（(【\[].*?[）)】\]]"
