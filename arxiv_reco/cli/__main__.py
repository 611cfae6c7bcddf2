"""`python -m arxiv_reco.cli`: the same as `arxiv-reco`."""

import sys

from . import main

sys.exit(main())
