<?php
/*
 * Acts on the test site from the command line, for what the 6.1 REST API cannot do.
 *
 *   php tool.php switch-theme <stylesheet>   e.g. twentytwentythree, twentytwentyone
 *   php tool.php eval < code.php              runs PHP code (without "<?php") with WordPress loaded
 *
 * Prints JSON for switch-theme; eval prints whatever the code echoes.
 */
require __DIR__ . '/cli-bootstrap.php';
require $tm_wp_root . '/wp-load.php';

$tm_command = $argv[1] ?? '';
if ($tm_command === 'switch-theme') {
    $tm_theme = wp_get_theme($argv[2] ?? '');
    if (!$tm_theme->exists() || !$tm_theme->is_allowed()) {
        $tm_installed = array_keys(wp_get_themes());
        fwrite(STDERR, 'unknown theme ' . ($argv[2] ?? '') . '; installed: ' . implode(', ', $tm_installed) . "\n");
        exit(1);
    }
    switch_theme($tm_theme->get_stylesheet());
    tm_print_json(['stylesheet' => get_stylesheet(), 'template' => get_template(),
                   'block_theme' => wp_is_block_theme()]);
} elseif ($tm_command === 'eval') {
    eval(stream_get_contents(STDIN));
} else {
    fwrite(STDERR, "usage: tool.php switch-theme <stylesheet> | eval < code\n");
    exit(2);
}
