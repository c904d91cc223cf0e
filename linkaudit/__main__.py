"""``python -m linkaudit``."""

from linkaudit.cli import main

if __name__ == "__main__":
    main()
