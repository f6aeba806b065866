"""Key and certificate management: encrypted key files (PKCS#8) and, later, PKCS#11 tokens."""
