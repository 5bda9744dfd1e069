"""The file formats memviz writes and reads: each owns its field lists and checks every
field of what it reads. They turn values' fields into documents and back, and know no
value class, reading or renderer (``memviz.values`` builds the values from the fields).

- ``snapshot_json``: ``Snapshot.dump`` / ``Snapshot.load`` (versioned JSON).
"""
