<?php
/**
 * Plugin Name: Thread Mirror Push
 * Description: Tells a Thread Mirror bot at once when a comment is added, edited, approved, trashed or deleted, so it mirrors the change into chat without waiting for its next poll. Sends only the comment's id, signed; the bot reads the comment itself through the REST API.
 * Version: 1.0.0
 * Requires at least: 5.6
 * Requires PHP: 7.4
 * License: MIT
 *
 * Install: copy this one file to wp-content/plugins/ (then activate it) or to wp-content/mu-plugins/
 * (always on). Configure under Settings → Thread Mirror, or in wp-config.php:
 *
 *     define( 'THREAD_MIRROR_PUSH_URL', 'https://bot.example.org/hooks/wordpress/blog' );
 *     define( 'THREAD_MIRROR_PUSH_SECRET', '...the push_secret of this site in the bot's config...' );
 *
 * Each request's notifications are collected (one per comment) and sent at the end of the request,
 * on `shutdown`, after the page went out where PHP-FPM or LiteSpeed allow it, as non-blocking
 * requests with a one-second timeout: the commenter never waits for the bot.
 *
 * Signature: header X-ThreadMirror-Timestamp is the Unix time; X-ThreadMirror-Signature is
 * "sha256=" . hex HMAC-SHA256 of "<timestamp>.<body>" under the shared secret.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

final class Thread_Mirror_Push {
	const OPTION_URL    = 'thread_mirror_push_url';
	const OPTION_SECRET = 'thread_mirror_push_secret';

	/** @var array<int, array{event: string, post_id: int}> comment id => what happened last, for this request */
	private static $queue = array();

	public static function boot() {
		add_action( 'wp_insert_comment', array( __CLASS__, 'on_insert' ), 10, 2 );
		add_action( 'edit_comment', array( __CLASS__, 'on_edit' ), 10, 1 );
		add_action( 'transition_comment_status', array( __CLASS__, 'on_transition' ), 10, 3 );
		foreach ( array( 'trashed_comment', 'untrashed_comment', 'spammed_comment', 'unspammed_comment', 'deleted_comment' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'on_' . $hook ), 10, 2 );
		}
		add_action( 'shutdown', array( __CLASS__, 'flush' ), 1000 );
		if ( is_admin() ) {
			add_action( 'admin_menu', array( __CLASS__, 'admin_menu' ) );
			add_action( 'admin_init', array( __CLASS__, 'register_settings' ) );
		}
	}

	// -- what happened --------------------------------------------------------------------

	public static function on_insert( $comment_id, $comment ) {
		self::queue( 'new', $comment );
	}

	public static function on_edit( $comment_id ) {
		self::queue( 'edited', get_comment( $comment_id ) );
	}

	public static function on_transition( $new_status, $old_status, $comment ) {
		self::queue( 'approved' === $new_status ? 'approved' : 'status:' . $new_status, $comment );
	}

	public static function on_trashed_comment( $comment_id, $comment ) {
		self::queue( 'trashed', $comment );
	}

	public static function on_untrashed_comment( $comment_id, $comment ) {
		self::queue( 'untrashed', $comment );
	}

	public static function on_spammed_comment( $comment_id, $comment ) {
		self::queue( 'spammed', $comment );
	}

	public static function on_unspammed_comment( $comment_id, $comment ) {
		self::queue( 'unspammed', $comment );
	}

	public static function on_deleted_comment( $comment_id, $comment ) {
		self::queue( 'deleted', $comment );
	}

	private static function queue( $event, $comment ) {
		if ( ! $comment instanceof WP_Comment ) {
			return;
		}
		if ( ! in_array( $comment->comment_type, array( '', 'comment' ), true ) ) {
			return;  // pingbacks, trackbacks, notes: the bot mirrors comments only
		}
		$id = (int) $comment->comment_ID;
		if ( isset( self::$queue[ $id ] ) && 'new' === self::$queue[ $id ]['event'] ) {
			return;  // a new comment's approval in the same request is still news of a new comment
		}
		self::$queue[ $id ] = array(
			'event'   => $event,
			'post_id' => (int) $comment->comment_post_ID,
		);
	}

	// -- sending ----------------------------------------------------------------------------

	public static function url() {
		return defined( 'THREAD_MIRROR_PUSH_URL' ) ? (string) THREAD_MIRROR_PUSH_URL : (string) get_option( self::OPTION_URL, '' );
	}

	public static function secret() {
		return defined( 'THREAD_MIRROR_PUSH_SECRET' ) ? (string) THREAD_MIRROR_PUSH_SECRET : (string) get_option( self::OPTION_SECRET, '' );
	}

	/** Sends what this request queued, once per comment, without waiting for answers. */
	public static function flush() {
		$queue       = self::$queue;
		self::$queue = array();
		$url         = self::url();
		$secret      = self::secret();
		if ( ! $queue || '' === $url || '' === $secret ) {
			return;
		}
		// Under PHP-FPM (or LiteSpeed) finish the visitor's response first: even a transport
		// that waits for the answer (cURL does, despite 'blocking' => false) then delays nobody.
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request();
		} elseif ( function_exists( 'litespeed_finish_request' ) ) {
			litespeed_finish_request();
		}
		foreach ( $queue as $comment_id => $what ) {
			self::send( $url, $secret, $comment_id, $what['event'], $what['post_id'] );
		}
	}

	private static function send( $url, $secret, $comment_id, $event, $post_id ) {
		$body      = wp_json_encode(
			array(
				'event'      => $event,
				'comment_id' => $comment_id,
				'post_id'    => $post_id,
				'nonce'      => bin2hex( random_bytes( 8 ) ),  // two real notifications never look like a replay
			)
		);
		$timestamp = (string) time();
		wp_remote_post(
			$url,
			array(
				'blocking'    => false,
				'timeout'     => 1,
				'redirection' => 0,
				'headers'     => array(
					'Content-Type'             => 'application/json',
					'X-ThreadMirror-Timestamp' => $timestamp,
					'X-ThreadMirror-Signature' => 'sha256=' . hash_hmac( 'sha256', $timestamp . '.' . $body, $secret ),
				),
				'body'        => $body,
			)
		);
	}

	// -- Settings → Thread Mirror -------------------------------------------------------------

	public static function admin_menu() {
		add_options_page( 'Thread Mirror', 'Thread Mirror', 'manage_options', 'thread-mirror-push', array( __CLASS__, 'settings_page' ) );
	}

	public static function register_settings() {
		register_setting(
			'thread_mirror_push',
			self::OPTION_URL,
			array(
				'type'              => 'string',
				'sanitize_callback' => 'esc_url_raw',
				'default'           => '',
			)
		);
		register_setting(
			'thread_mirror_push',
			self::OPTION_SECRET,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( __CLASS__, 'sanitize_secret' ),
				'default'           => '',
			)
		);
	}

	/** An empty field keeps the stored secret: it is never sent back to the browser. */
	public static function sanitize_secret( $value ) {
		$value = trim( (string) $value );
		return '' === $value ? (string) get_option( self::OPTION_SECRET, '' ) : $value;
	}

	public static function settings_page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$url_fixed    = defined( 'THREAD_MIRROR_PUSH_URL' );
		$secret_fixed = defined( 'THREAD_MIRROR_PUSH_SECRET' );
		$has_secret   = '' !== self::secret();
		?>
		<div class="wrap">
			<h1>Thread Mirror</h1>
			<p>When a comment is added, edited, approved, trashed or deleted, this site tells the Thread Mirror bot,
				which then reads the comment through the REST API and updates the chat threads at once.</p>
			<form method="post" action="options.php">
				<?php settings_fields( 'thread_mirror_push' ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="tm-url">Webhook URL</label></th>
						<td>
							<input type="url" class="regular-text code" id="tm-url" name="<?php echo esc_attr( self::OPTION_URL ); ?>"
								value="<?php echo esc_attr( self::url() ); ?>" <?php disabled( $url_fixed ); ?>
								placeholder="https://bot.example.org/hooks/wordpress/blog">
							<p class="description"><?php echo $url_fixed ? 'Set by THREAD_MIRROR_PUSH_URL in wp-config.php.' : 'The bot\'s /hooks/wordpress/&lt;site name&gt; address.'; ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="tm-secret">Shared secret</label></th>
						<td>
							<input type="password" class="regular-text code" id="tm-secret" name="<?php echo esc_attr( self::OPTION_SECRET ); ?>"
								value="" autocomplete="new-password" <?php disabled( $secret_fixed ); ?>
								placeholder="<?php echo $has_secret ? esc_attr( '(set; leave empty to keep it)' ) : ''; ?>">
							<p class="description"><?php echo $secret_fixed ? 'Set by THREAD_MIRROR_PUSH_SECRET in wp-config.php.' : 'The same value as push_secret for this site in the bot\'s config.'; ?></p>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
		</div>
		<?php
	}
}

Thread_Mirror_Push::boot();
