"""``python -m briefy.choreographer.cli``: the same as ``choreographer``."""

import sys

from briefy.choreographer.cli import main

sys.exit(main())
