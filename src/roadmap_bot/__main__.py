from roadmap_bot.cli import run

run()
