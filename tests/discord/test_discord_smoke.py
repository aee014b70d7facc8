from conftest import ALICE


async def test_smoke(fake, bot):
    sent = await fake.slash("project", {"name": "redis"}, user=ALICE)
    shown = await sent.answer()
    print(shown.message)
    assert shown.title == "Redis"
