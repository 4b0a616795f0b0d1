<?php
/*
 * Installs the test site into the instance's (empty or already installed) database, then
 * (re)creates the harness users and their application passwords. Idempotent: run it again and
 * it only refreshes settings and issues fresh application passwords (WordPress stores only
 * their hashes, so old ones cannot be printed again).
 *
 * Prints JSON: {"installed_now": bool, "admin": {...}, "bot": {...}, "timezone": ...}
 * where each user is {"id", "username", "password", "app_password"}.
 */
require __DIR__ . '/cli-bootstrap.php';

define('WP_INSTALLING', true);
require $tm_wp_root . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

// wp_install() probes the site over HTTP to pick a permalink structure and mails the admin:
// neither is wanted (we set permalinks below, there is no mail), and both would be slow.
add_filter('pre_http_request', fn() => new WP_Error('tm_http_blocked', 'no HTTP during install'), 1);
add_filter('pre_wp_mail', '__return_false');

const TM_APP_PASSWORD_NAME = 'thread-mirror-tests';

$tm_users = [
    'admin' => ['login' => 'admin', 'email' => 'admin@example.test', 'role' => 'administrator',
                'password' => 'admin-password'],
    'bot' => ['login' => 'mirrorbot', 'email' => 'mirrorbot@example.test', 'role' => 'editor',
              'password' => 'mirrorbot-password'],
];

$tm_installed_now = false;
if (!is_blog_installed()) {
    // Same as the web installer: admin is user 1, the sample post/page/comment are created.
    $tm_result = wp_install('Thread Mirror Test', $tm_users['admin']['login'],
                            $tm_users['admin']['email'], true, '', $tm_users['admin']['password']);
    if (is_wp_error($tm_result)) {
        fwrite(STDERR, 'wp_install failed: ' . $tm_result->get_error_message() . "\n");
        exit(1);
    }
    $tm_installed_now = true;
}

// Pretty permalinks like the reference site (/mirror-test/). Deleting rewrite_rules makes the
// next request rebuild them; no .htaccess is written (Debian symlinks it to /etc/wordpress).
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
delete_option('rewrite_rules');

// Comments: open everywhere, no moderation queue for the site's own posts. Notification mails
// are off because there is no MTA (each attempt would only fail). Everything else (duplicate
// detection, flood limit for plain users, require name+email, threading 5 deep, UTC) stays at
// WordPress's defaults so the bot meets what a real site does.
update_option('default_comment_status', 'open');
update_option('comment_moderation', '0');
update_option('comments_notify', '0');
update_option('moderation_notify', '0');
update_option('close_comments_for_old_posts', '0');

$tm_out = ['installed_now' => $tm_installed_now, 'home' => home_url('/'),
           'timezone' => wp_timezone_string(), 'stylesheet' => get_stylesheet()];

foreach ($tm_users as $tm_key => $tm_spec) {
    $tm_user = get_user_by('login', $tm_spec['login']);
    if (!$tm_user) {
        $tm_id = wp_insert_user([
            'user_login' => $tm_spec['login'],
            'user_pass' => $tm_spec['password'],
            'user_email' => $tm_spec['email'],
            'display_name' => $tm_spec['login'],
            'role' => $tm_spec['role'],
        ]);
        if (is_wp_error($tm_id)) {
            fwrite(STDERR, "creating {$tm_spec['login']} failed: " . $tm_id->get_error_message() . "\n");
            exit(1);
        }
        $tm_user = get_user_by('id', $tm_id);
    }
    $tm_user->set_role($tm_spec['role']);

    // One current application password per user: drop the previous run's, issue a new one.
    foreach (WP_Application_Passwords::get_user_application_passwords($tm_user->ID) as $tm_item) {
        if ($tm_item['name'] === TM_APP_PASSWORD_NAME) {
            WP_Application_Passwords::delete_application_password($tm_user->ID, $tm_item['uuid']);
        }
    }
    $tm_created = WP_Application_Passwords::create_new_application_password(
        $tm_user->ID, ['name' => TM_APP_PASSWORD_NAME]);
    if (is_wp_error($tm_created)) {
        fwrite(STDERR, "application password for {$tm_spec['login']} failed: "
                       . $tm_created->get_error_message() . "\n");
        exit(1);
    }
    $tm_out[$tm_key] = [
        'id' => $tm_user->ID,
        'username' => $tm_spec['login'],
        'password' => $tm_spec['password'],
        // The API accepts it with or without the spaces of its display form.
        'app_password' => WP_Application_Passwords::chunk_password($tm_created[0]),
    ];
}

tm_print_json($tm_out);
