"""Python runs this at start-up in every subprocess the tests launch: no internet there either."""

import offline_guard

offline_guard.install()
