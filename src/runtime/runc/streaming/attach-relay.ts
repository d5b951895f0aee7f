/**
 * A relay between Node and conmon's attach socket.
 *
 * conmon's attach socket is AF_UNIX SOCK_SEQPACKET: every message it sends
 * is one read of the container's output, prefixed with one byte naming the
 * stream (2 stdout, 3 stderr), and every message it receives is stdin.
 * Node's `net` only speaks SOCK_STREAM, so something else must hold the
 * socket. We use a few lines of Perl with its core Socket module:
 *
 * - perl-base is Essential in Debian (dpkg itself needs it), so it is on
 *   every machine the runtime runs on, CI included; nothing to install.
 * - `recv` on a SEQPACKET socket returns exactly one message, so the relay
 *   keeps conmon's boundaries and re-frames each message with a 4-byte
 *   length for the Node side. socat (`type=5`) would read messages whole
 *   too, but it writes them into a byte pipe where the boundaries, and with
 *   them which bytes are stdout and which stderr, are lost; and it is not
 *   installed by default. python3 is not guaranteed on a minimal Debian.
 * - The relay connects through `/proc/self/fd/<dirfd>/attach`, as CRI-O
 *   does, so socket paths longer than sun_path's 108 bytes still work.
 *
 * Protocol on the relay's stdout: frames of `u32be length` + message. The
 * first frame is empty and means "connected"; conmon never sends an empty
 * message. On stdin EOF the relay half-closes the socket when told to
 * (argument 3 = "1"), which makes conmon close the container's stdin when
 * the container has stdinOnce. Errors go to stderr, exit status 1; the end
 * of the attachment (conmon closed the socket) is exit status 0.
 */

export const ATTACH_RELAY_SCRIPT = String.raw`
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_SEQPACKET pack_sockaddr_un);
use Fcntl qw(O_RDONLY O_DIRECTORY F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EINTR EAGAIN ECONNRESET EPIPE);

my ($dir, $name, $half_close) = @ARGV;
$SIG{PIPE} = 'IGNORE';
sub fail { print STDERR $_[0], "\n"; exit 1 }

sysopen(my $dh, $dir, O_RDONLY | O_DIRECTORY) or fail("cannot open $dir: $!");
socket(my $s, AF_UNIX, SOCK_SEQPACKET, 0) or fail("cannot create a SOCK_SEQPACKET socket: $!");
connect($s, pack_sockaddr_un('/proc/self/fd/' . fileno($dh) . '/' . $name)) or fail("cannot connect to $dir/$name: $!");
close($dh);
my $flags = fcntl($s, F_GETFL, 0) or fail("fcntl: $!");
fcntl($s, F_SETFL, $flags | O_NONBLOCK) or fail("fcntl: $!");
binmode(STDIN);
binmode(STDOUT);

sub emit {
  my $frame = pack('N', length($_[0])) . $_[0];
  my $off = 0;
  while ($off < length($frame)) {
    my $w = syswrite(STDOUT, $frame, length($frame) - $off, $off);
    if (!defined $w) { next if $! == EINTR; exit 0 }
    $off += $w;
  }
}

emit('');
my $stdin_open = 1;
my $pending = '';
while (1) {
  my ($rin, $win) = ('', '');
  vec($rin, fileno($s), 1) = 1;
  vec($rin, fileno(STDIN), 1) = 1 if $stdin_open && $pending eq '';
  vec($win, fileno($s), 1) = 1 if $pending ne '';
  my $n = select(my $rout = $rin, my $wout = $win, undef, undef);
  if ($n < 0) { next if $! == EINTR; fail("select: $!") }
  if (vec($rout, fileno($s), 1)) {
    my $msg = '';
    if (!defined recv($s, $msg, 65536, 0)) {
      next if $! == EINTR || $! == EAGAIN;
      last if $! == ECONNRESET;
      fail("cannot read from the attach socket: $!");
    }
    last if length($msg) == 0;
    emit($msg);
  }
  if ($pending ne '' && vec($wout, fileno($s), 1)) {
    if (defined send($s, $pending, 0)) { $pending = '' }
    elsif ($! == EINTR || $! == EAGAIN) { }
    elsif ($! == EPIPE || $! == ECONNRESET) { $pending = ''; $stdin_open = 0 }
    else { fail("cannot write to the attach socket: $!") }
  }
  if ($stdin_open && $pending eq '' && vec($rin, fileno(STDIN), 1) && vec($rout, fileno(STDIN), 1)) {
    # 8 KiB messages: conmon reads each message in one recv of a fixed buffer.
    my $r = sysread(STDIN, $pending, 8192);
    if (!defined $r) { $pending = ''; next if $! == EINTR || $! == EAGAIN; $r = 0 }
    if ($r == 0) {
      $stdin_open = 0;
      $pending = '';
      shutdown($s, 1) if $half_close eq '1';
    }
  }
}
exit 0;
`;

/** conmon's stream ids (conmon's stdpipe_t). */
export const STDOUT_PIPE = 2;
export const STDERR_PIPE = 3;

/**
 * Splits the relay's byte stream back into conmon's messages. An empty
 * message is the relay's "connected" marker.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every message completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    while (this.pending.length - off >= 4) {
      const len = this.pending.readUInt32BE(off);
      if (this.pending.length - off - 4 < len) break;
      out.push(this.pending.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(off);
    return out;
  }

  /** Bytes of an unfinished frame (non-zero at the end means the relay died mid-frame). */
  get buffered(): number {
    return this.pending.length;
  }
}
