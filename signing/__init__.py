"""Contract PDFs and their PAdES signatures: rendering, signing (local, token, remote), validation.

Split as pyHanko splits ``sign/`` and ``sign/validation/``: ``render`` makes the
draft, ``pades`` and ``remote`` sign it, ``validation`` checks what was signed.
"""
