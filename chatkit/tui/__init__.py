"""The terminal chat client: watch ``send``, ``reconcile`` and ``rollback`` at work, live.

People would rather watch a message go from a grey clock to a tick than read a
table. This package is a Textual client that runs the chosen target's flow (the
starter, the solution or a learner's folder) against the live server, with
switches that make the network hostile on purpose.

- `cli` — ``chatkit chat`` and ``chatkit demo`` (also ``python -m chatkit.tui``)
- `app` — `ChatApp`, one user in one chat; `base` — what both apps share
- `demo` — `DemoApp`, two users side by side; `embedded` — its server, in a thread of its own
- `pane` — `ChatPane`, one chat on screen: connection line, timeline, banner, indicators
- `timeline` — `Timeline`, the rows: only the lines in view drawn, only changed rows redrawn
- `rows` — `MessageRow`, one message and its drawing, with its status mark on your own
- `composer` — `Composer`, the message box: Enter sends exactly what it holds, once, in order
- `faults` — the fault switches, the panel and the one-line bar that show them
- `password` — `PasswordScreen`, asking again for a password the server turned down
- `session` — `ChatSession`, the glue between a pane, the flow and the transport
- `patience` — `listening`: an ack's wait counted in the client's own listening time
- `notices` — the learner's exceptions, turned into something a person can read
- `screenshot` — writes ``docs/demo.svg``, and reads a picture's text back for its test

The TUI depends on the model and the live transports, never the reverse.
"""
