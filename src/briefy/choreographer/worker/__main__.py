"""``python -m briefy.choreographer.worker``: the daemon (the same as ``choreographer worker``)."""

from briefy.choreographer.cli.worker import main

raise SystemExit(main())
