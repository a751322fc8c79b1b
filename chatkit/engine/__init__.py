"""The test engine: what runs a learner's flow through scripted scenarios and checks it.

- `scripted` — the scripted server, which decides when each ack, echo and failure arrives;
- `rules` — the rules a correct flow keeps, checked after every step;
- `harness` — the ``kit`` a scenario drives: users, phones, sends, server answers;
- `story` — what happened, step by step, for every report to tell;
- `hang_watch` — stops learner code that loops without ever giving the loop a turn;
- `timelines` — the explorer that tries every order the server's answers can arrive in;
- `pytest_plugin` — runs ``tests/scenarios`` as plain pytest (``-p chatkit.engine.pytest_plugin``).

The learner's API stays in `chatkit` itself (model, state, protocols); the grader
(`chatkit.grading`) is built on this engine, and the live side needs none of it.
"""
