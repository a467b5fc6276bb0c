"""Domain of 送教通 with no I/O: vocabulary, policy rules, compliance arithmetic, sync protocol.

Both the server and the phone import from here, so each rule exists exactly once.
"""
