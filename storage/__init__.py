"""Storage: migrations, the connection interface and one repository per table family."""
