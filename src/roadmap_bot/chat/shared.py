"""What a card shared to a channel shows: the same for everyone who reads it.

A card is built for the person who asked (their marks, their place in a path, "Undo" for
what they finished). Shared, those would be the sharer's: another member's "Undo" click
answered "nothing to undo". So the shared copy keeps what is about the project or path
and turns every button into one that means the same for whoever clicks it; the click then
answers the clicker privately, with their own state.
"""

from __future__ import annotations

from roadmap_bot.chat.replies import Action, Item, Mark, Reply, ReplyKind, Style

# Replies that are about a person by design ("alice's progress", a study group's grid):
# shared, they stay as they are; only their buttons are made neutral.
ABOUT_PEOPLE = frozenset({ReplyKind.PROGRESS, ReplyKind.GROUP})
# Facts that describe the asker, not the thing the card is about.
PERSONAL_FACTS = frozenset({"Your status"})
PERSONAL_PATH_FACTS = frozenset({"Progress"})


def for_everyone(reply: Reply) -> Reply:
    """The public copy of ``reply``: no one's own state, buttons the same for everyone."""
    update: dict[str, object] = {"public": True, "actions": _neutral_actions(reply)}
    if reply.kind not in ABOUT_PEOPLE:
        hidden = PERSONAL_FACTS | (PERSONAL_PATH_FACTS if reply.kind is ReplyKind.PATH else set())
        update["facts"] = tuple(f for f in reply.facts if f.label not in hidden)
        update["items"] = tuple(_unmarked(i) for i in reply.items)
        update["sections"] = tuple(
            s.model_copy(update={"items": tuple(_unmarked(i) for i in s.items)})
            for s in reply.sections
        )
        if reply.kind is ReplyKind.PATH:
            update["footer"] = ""  # "You are at step 3": the sharer's place
    return reply.model_copy(update=update)


def _unmarked(item: Item) -> Item:
    return item if item.mark is Mark.NONE else item.model_copy(update={"mark": Mark.NONE})


def _neutral_actions(reply: Reply) -> tuple[Action, ...]:
    out: list[Action] = []
    for action in reply.actions:
        neutral = _neutral(reply, action)
        if neutral is not None and neutral not in out:
            out.append(neutral)
    return tuple(out)


def _neutral(reply: Reply, action: Action) -> Action | None:
    verb, _, rest = (action.command or "").partition(" ")
    if verb == "undo":  # the sharer's undo; for everyone it is "mark it done"
        return Action(label="Mark done", command=f"done {rest}", style=Style.PRIMARY)
    if verb == "unfollow":
        return Action(label="Follow this path", command=f"follow {rest}")
    if reply.kind is ReplyKind.PATH and verb in ("project", "done"):
        # "Open <the sharer's current step>": each reader's own place instead.
        return Action(label="My place in this path", command=reply.command, style=Style.PRIMARY)
    return action
