"""Architecture reports: fetch, parse and cache each report's outline (the reading agenda).

``outline`` parses (pure), ``fetch`` does one bounded HTTP request, ``service`` holds the
cache policy, ``reply`` says it, ``command`` wires it onto the core, ``progress`` draws
the refresh bar. Import from the modules: this package re-exports nothing. The store
keeps outlines as JSON text; ``service`` turns them into the model.
"""
