"""Transport security: TLS contexts for security profiles 2 and 3, and a development PKI."""
