"""``python -m bootstrap_sdk``: the runtime entry a bootstrap calls; reads ``_HANDLER``."""

from .entry import run


def main() -> None:
    run()


if __name__ == "__main__":
    main()
