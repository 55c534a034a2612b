import sys

from greenai.cli import main

sys.exit(main())
