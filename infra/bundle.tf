# The functions' deployable source: `make bundle` writes build/function-source/
# (functions/ plus a copy of schemas/), which is zipped here and uploaded under
# its content hash. Same code => same object name => no redeploy; any change in
# code or schemas => new object => the three functions are rebuilt.

data "archive_file" "function_source" {
  type             = "zip"
  source_dir       = "${path.module}/../build/function-source"
  output_path      = "${path.module}/../build/function-source.zip"
  output_file_mode = "0644"
  excludes         = ["**/__pycache__/**", "**/*.pyc"]
}

resource "google_storage_bucket_object" "function_source" {
  name         = "function-source/${data.archive_file.function_source.output_sha256}.zip"
  bucket       = google_storage_bucket.sources.name
  source       = data.archive_file.function_source.output_path
  content_type = "application/zip"
}
