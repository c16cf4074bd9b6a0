"""Result records and what is made of them: tables, output formats, reports, the paper comparison,
statistics and speed tables."""
