<?php
/*
 * Router for PHP's built-in server, standing in for Apache + mod_rewrite:
 *
 *   php -S 127.0.0.1:PORT -t /usr/share/wordpress tests/wp/router.php
 *
 * - existing static files under the document root are served by the built-in server itself;
 * - /wp-content/... files that only exist in Debian's WP_CONTENT_DIR (/var/lib/wordpress/wp-content,
 *   e.g. uploads) are served from there, like Debian's "Alias /wp-content" for Apache;
 * - existing .php files (wp-login.php, wp-admin/...) run as themselves;
 * - everything else (pretty permalinks, /wp-json/...) goes to index.php.
 *
 * This file must stay at top level (no functions around the require): WordPress relies on
 * variables set by its files being globals.
 */

// Debian's /usr/share/wordpress/wp-config.php picks /etc/wordpress/config-<WORDPRESS_CONFIG>.php
// when this is set, so the harness never touches the host-named config-127.0.0.1.php.
$_SERVER['WORDPRESS_CONFIG'] = 'threadmirror-test';

$tm_docroot = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$tm_path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');

// Refuse path tricks before touching the file system.
if (str_contains($tm_path, '..') || str_contains($tm_path, "\0")) {
    http_response_code(400);
    echo "bad path\n";
    return true;
}

$tm_file = $tm_docroot . $tm_path;
if (is_dir($tm_file) && is_file(rtrim($tm_file, '/') . '/index.php')) {
    // /wp-admin/ and friends. Let the server redirect "/wp-admin" to "/wp-admin/" first.
    if (!str_ends_with($tm_path, '/')) {
        header('Location: ' . $tm_path . '/', true, 301);
        return true;
    }
    $tm_file = rtrim($tm_file, '/') . '/index.php';
}

if (is_file($tm_file) && !str_ends_with($tm_file, '.php')) {
    return false;  // static file: the built-in server sends it with the right MIME type
}

if (str_starts_with($tm_path, '/wp-content/') && !is_file($tm_file)) {
    $tm_content = '/var/lib/wordpress/wp-content' . substr($tm_path, strlen('/wp-content'));
    if (is_file($tm_content) && !str_ends_with($tm_content, '.php')) {
        $tm_type = function_exists('mime_content_type') ? mime_content_type($tm_content) : false;
        header('Content-Type: ' . ($tm_type ?: 'application/octet-stream'));
        header('Content-Length: ' . filesize($tm_content));
        readfile($tm_content);
        return true;
    }
}

if (!is_file($tm_file) || !str_ends_with($tm_file, '.php')) {
    $tm_file = $tm_docroot . '/index.php';  // pretty permalinks and the REST API
}

// Make the script believe it was requested directly, as it would be under Apache.
$tm_script = substr($tm_file, strlen($tm_docroot));
$_SERVER['SCRIPT_FILENAME'] = $tm_file;
$_SERVER['SCRIPT_NAME'] = $tm_script;
$_SERVER['PHP_SELF'] = $tm_script;
chdir(dirname($tm_file));
unset($tm_docroot, $tm_path, $tm_content, $tm_type, $tm_script);
require $tm_file;
