"""`python -m arxiv_reco ...` is the `arxiv-reco` command."""

import sys

from .cli import main

sys.exit(main())
