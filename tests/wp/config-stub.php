<?php
/*
 * Copied by tests/realwp.py to /etc/wordpress/config-threadmirror-test.php, which Debian's
 * wp-config.php loads because tests/wp/router.php (and the CLI scripts) set
 * $_SERVER['WORDPRESS_CONFIG'] = 'threadmirror-test'.
 *
 * It holds nothing instance-specific: each harness instance passes the path of its own
 * generated config in THREAD_MIRROR_WP_CONFIG, so several instances (own MariaDB, own port)
 * can run side by side.
 */
$tm_instance_config = getenv('THREAD_MIRROR_WP_CONFIG');
if (!$tm_instance_config || !is_file($tm_instance_config)) {
    header('HTTP/1.0 500 Internal Server Error');
    echo "THREAD_MIRROR_WP_CONFIG is not set to a readable file\n";
    exit(1);
}
require $tm_instance_config;
unset($tm_instance_config);
