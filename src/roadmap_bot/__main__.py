from roadmap_bot.program import run

run()
