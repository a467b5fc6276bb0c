"""The vocabulary of home-delivered teaching and itinerant guidance.

String enums: their values are what travels in roster files, JSON and the database.
"""

from enum import StrEnum


class Placement(StrEnum):
    """安置方式 of a disabled child."""

    REGULAR_CLASS = "regular_class"  # 随班就读
    SPECIAL_CLASS = "special_class"  # 特教班 / 卫星班
    SPECIAL_SCHOOL = "special_school"  # 特殊教育学校
    HOME_DELIVERY = "home_delivery"  # 送教上门
    INSTITUTION = "institution"  # 机构


class Stage(StrEnum):
    PRESCHOOL = "preschool"
    COMPULSORY = "compulsory"
    HIGH_SCHOOL = "high_school"


class DisabilityCategory(StrEnum):
    """残疾类别 (残疾人保障法 Art. 2); the digit is the one inside a 残疾人证号."""

    VISUAL = "visual"
    HEARING = "hearing"
    SPEECH = "speech"
    PHYSICAL = "physical"
    INTELLECTUAL = "intellectual"
    MENTAL = "mental"
    MULTIPLE = "multiple"


class SchoolKind(StrEnum):
    ORDINARY = "ordinary"
    SPECIAL = "special"


class Role(StrEnum):
    TEACHER = "teacher"  # 送教教师
    ITINERANT = "itinerant"  # 巡回指导教师
    COORDINATOR = "coordinator"  # one district
    ADMIN = "admin"  # all districts


class VisitKind(StrEnum):
    HOME_TEACHING = "home_teaching"
    ITINERANT = "itinerant"


class ItinerantPurpose(StrEnum):
    ASSESSMENT = "assessment"
    IEP_REVIEW = "iep_review"
    CLASSROOM_OBSERVATION = "classroom_observation"
    DEMONSTRATION_LESSON = "demonstration_lesson"
    TEACHER_TRAINING = "teacher_training"
    RESOURCE_ROOM_CHECK = "resource_room_check"
    PARENT_CONSULTATION = "parent_consultation"
    QUALITY_EVALUATION = "quality_evaluation"


class TravelMode(StrEnum):
    CAR = "car"
    PUBLIC_TRANSPORT = "public_transport"
    MOTORBIKE = "motorbike"
    BICYCLE = "bicycle"
    WALK = "walk"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class EvidenceFlag(StrEnum):
    """Why a coordinator should look at a visit. Flags never remove a visit from any count."""

    NO_GPS = "no_gps"  # no position at check-in
    OUTSIDE_GEOFENCE = "outside_geofence"  # check-in too far from the registered home or school
    LOW_ACCURACY = "low_accuracy"  # GPS accuracy worse than the policy allows
    SHORT_DURATION = "short_duration"  # shorter than the policy's minimum
    NO_PHOTO = "no_photo"
    OVERLAPPING = "overlapping"  # same teacher in two visits at overlapping times
    SAME_DAY_DUPLICATE = "same_day_duplicate"  # two home visits to the same child on one day
    FUTURE_TIME = "future_time"  # started after the server received it (phone clock ahead)
    STALE_TIME = "stale_time"  # started far before the server received it (or clock behind)
    TIME_EDITED = "time_edited"  # started_at/ended_at typed away from the instant of the tap


# Used by the compulsory-stage counts; grades 1-9 are 义务教育.
COMPULSORY_GRADES = range(1, 10)
