{
  "targets": [
    {
      "target_name": "unixcred",
      "sources": ["unixcred.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
