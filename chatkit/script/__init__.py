"""What a scenario scripts, shared by the judge and the phones (each has its own copy of
the server while a timeline runs): `server` (the scripted server), `small_world` (the
small worlds the explorer walks: their events, and what may happen next), `names` (the
people, the chat, and a run's client ids named as the sends they belong to).

It imports only the model and the state: the judge (`chatkit.engine`) and the phones
(`chatkit.phone`) both stand on it, and neither on the other's inside.
"""
