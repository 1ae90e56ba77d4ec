"""Long exports as background jobs: queued by a request, run by the server's export worker,
with progress in the `jobs` table and the file kept for a while in the upload directory."""
