<?php
/*
 * Shared start of the harness's CLI scripts (install.php, tool.php): makes a CLI process look
 * like a request to this instance so Debian's wp-config.php finds the harness config.
 * Include it at top level only: WordPress needs its variables to be globals.
 *
 * Environment (set by tests/realwp.py):
 *   THREAD_MIRROR_WP_CONFIG  path of the instance's generated wp-config (read by config-stub.php)
 *   THREAD_MIRROR_WP_HOME    the instance's base URL, e.g. http://127.0.0.1:40123
 *   THREAD_MIRROR_WP_ROOT    WordPress core directory (default /usr/share/wordpress)
 */
if (PHP_SAPI !== 'cli') {
    exit(1);  // never reachable over HTTP
}

$tm_home = getenv('THREAD_MIRROR_WP_HOME');
if (!$tm_home || !getenv('THREAD_MIRROR_WP_CONFIG')) {
    fwrite(STDERR, "THREAD_MIRROR_WP_HOME and THREAD_MIRROR_WP_CONFIG must be set\n");
    exit(2);
}
$tm_url = parse_url($tm_home);
$_SERVER['HTTP_HOST'] = $tm_url['host'] . (isset($tm_url['port']) ? ':' . $tm_url['port'] : '');
$_SERVER['SERVER_NAME'] = $tm_url['host'];
$_SERVER['SERVER_PORT'] = (string) ($tm_url['port'] ?? 80);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
$_SERVER['WORDPRESS_CONFIG'] = 'threadmirror-test';

$tm_wp_root = rtrim(getenv('THREAD_MIRROR_WP_ROOT') ?: '/usr/share/wordpress', '/');
unset($tm_url);

/** Prints a JSON document on stdout and exits 0. */
function tm_print_json(array $data): void {
    echo json_encode($data, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
}
