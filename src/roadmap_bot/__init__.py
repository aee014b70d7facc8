"""roadmap-bot: a learning roadmap of open-source architecture reports, in team chat."""

__version__ = "0.1.0"
