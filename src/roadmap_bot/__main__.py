import sys

from roadmap_bot.cli import main

sys.exit(main())
