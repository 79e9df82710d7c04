"""The certificates controllers: the signer of approved CertificateSigningRequests."""
