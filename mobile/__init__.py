"""The field app (Flet). A placeholder until the field-app issue lands."""


def run(*, server: str, port: int) -> int:
    print("手机端尚未实现（见下一个议题）。", f"server={server} port={port}")
    return 1
