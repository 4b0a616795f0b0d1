<?php
/*
 * Per-instance WordPress config for the test harness. tests/realwp.py fills each @@NAME@@
 * with a PHP string literal and writes the result to <workdir>/wp-config-instance.php.
 * Debian's wp-config.php supplies ABSPATH, WP_CONTENT_DIR (/var/lib/wordpress/wp-content)
 * and $table_prefix ('wp_') after this file.
 */
define('DB_NAME', @@DB_NAME@@);
define('DB_USER', @@DB_USER@@);
define('DB_PASSWORD', @@DB_PASSWORD@@);
define('DB_HOST', @@DB_HOST@@);  // "localhost:/path/to/mysqld.sock": the private MariaDB's socket
// The private MariaDB runs with --no-defaults, so ask for utf8mb4 explicitly (emoji in comments).
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');

// Pin the URLs to this instance's port whatever the options table says.
define('WP_HOME', @@HOME@@);
define('WP_SITEURL', @@HOME@@);

// This instance's own must-use plugins (tests copy plugins there with install_mu_plugin()).
define('WPMU_PLUGIN_DIR', @@MU_PLUGINS@@);

// 'local' lets application passwords work over plain http.
define('WP_ENVIRONMENT_TYPE', 'local');

// No network but loopback: never try to reach wordpress.org, and no surprise cron requests.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);

// Fixed test salts: this site only ever lives on 127.0.0.1 for a test run.
define('AUTH_KEY', 'thread-mirror-test-auth-key');
define('SECURE_AUTH_KEY', 'thread-mirror-test-secure-auth-key');
define('LOGGED_IN_KEY', 'thread-mirror-test-logged-in-key');
define('NONCE_KEY', 'thread-mirror-test-nonce-key');
define('AUTH_SALT', 'thread-mirror-test-auth-salt');
define('SECURE_AUTH_SALT', 'thread-mirror-test-secure-auth-salt');
define('LOGGED_IN_SALT', 'thread-mirror-test-logged-in-salt');
define('NONCE_SALT', 'thread-mirror-test-nonce-salt');
