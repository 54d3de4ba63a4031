"""placeholder"""


def load_small_demo() -> dict[str, int]:
    return {}
