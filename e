{"error":"cannot reach Braid at http://127.0.0.1:18198: is `braid server` running (or pass --url)?","exitCode":1}
