"""The `pdfchat` command and the local stack supervisor."""
