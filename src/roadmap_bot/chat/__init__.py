"""The /roadmap language: parsing, the core that answers, replies, cards, plain text."""
