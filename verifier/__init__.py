"""The offline verifier: needs only the evidence and a trust bundle, never the server.

It imports the pure proof code of ``ledger`` and nothing that touches a database
or the network.
"""
