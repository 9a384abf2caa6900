import sys

from pelsim.cli import main

sys.exit(main())
