"""The bot's web server: health, Prometheus metrics and the WordPress push webhook."""
