-- Settlement lines are deduplicated by the PSP's own line id across reports (issue 16, item 6): the
-- ingest looks each chunk's line ids up here; the reports by their content's SHA-256.
create index if not exists settlement_lines_line_id on settlement_lines (psp, line_id);
create index if not exists settlement_reports_content on settlement_reports (psp, content_sha256);
