"""Allow `python -m alertbot`."""

from __future__ import annotations

from alertbot.cli import main

raise SystemExit(main())
