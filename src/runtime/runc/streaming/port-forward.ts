/**
 * CRI PortForward for the runc runtime: one byte stream per client
 * connection to `localhost:PORT` inside the sandbox's network namespace.
 *
 * Node cannot enter another network namespace (setns applies to a thread,
 * and Node offers no way to pin one), so each connection is a small relay
 * process: `nsenter --net=NETNS perl -e RELAY PORT`, nsenter from
 * util-linux and the relay on Perl's core Socket module (both Essential in
 * Debian, see attach-relay.ts). The relay connects first, as containerd and
 * CRI-O do: 127.0.0.1, then [::1]; only once connected does the stream
 * exist, so "nothing listens" is a failure value, with upstream's message,
 * not a stream that dies at once. After that it copies bytes both ways; the
 * end of what the client sends half-closes the connection (the server
 * still answers), and the server closing ends the stream.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { access } from "node:fs/promises";
import { Duplex } from "node:stream";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { fail, ok, type RuntimeResult } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";

/**
 * stdout: one `+` once connected, then the connection's bytes. stderr, on
 * a failed connect: `IPv4: <error>` and `IPv6 <error>` lines in Go's words
 * (`dial tcp4 127.0.0.1:80: connect: connection refused`), exit status 2;
 * on a broken connection later: the error, exit status 1.
 */
export const PORT_FORWARD_RELAY_SCRIPT = String.raw`
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM pack_sockaddr_in pack_sockaddr_in6 inet_pton);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EINTR EAGAIN);

my ($port) = @ARGV;
$SIG{PIPE} = 'IGNORE';
sub fail { print STDERR $_[0], "\n"; exit 1 }

my $s;
my @errors;
for my $try ([AF_INET, 'IPv4:', 'tcp4', '127.0.0.1', '127.0.0.1'], [AF_INET6, 'IPv6', 'tcp6', '[::1]', '::1']) {
  my ($family, $label, $net, $shown, $ip) = @$try;
  my $packed = inet_pton($family, $ip);
  my $addr = $family == AF_INET ? pack_sockaddr_in($port, $packed) : pack_sockaddr_in6($port, $packed);
  my $sock;
  if (!socket($sock, $family, SOCK_STREAM, 0)) { push @errors, "$label dial $net $shown:$port: socket: " . lcfirst("$!"); next }
  if (connect($sock, $addr)) { $s = $sock; last }
  push @errors, "$label dial $net $shown:$port: connect: " . lcfirst("$!");
  close($sock);
}
if (!$s) { print STDERR "$_\n" for @errors; exit 2 }

my $flags = fcntl($s, F_GETFL, 0) or fail("fcntl: $!");
fcntl($s, F_SETFL, $flags | O_NONBLOCK) or fail("fcntl: $!");
binmode(STDIN);
binmode(STDOUT);

sub out {
  my ($data) = @_;
  my $off = 0;
  while ($off < length($data)) {
    my $w = syswrite(STDOUT, $data, length($data) - $off, $off);
    if (!defined $w) { next if $! == EINTR; exit 0 }
    $off += $w;
  }
}

out('+');
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
    my $r = sysread($s, my $buf, 65536);
    if (!defined $r) { next if $! == EINTR || $! == EAGAIN; fail("read: " . lcfirst("$!")) }
    last if $r == 0;
    out($buf);
  }
  if ($pending ne '' && vec($wout, fileno($s), 1)) {
    my $w = syswrite($s, $pending);
    if (!defined $w) { next if $! == EINTR || $! == EAGAIN; fail("write: " . lcfirst("$!")) }
    substr($pending, 0, $w) = '';
  }
  if ($stdin_open && $pending eq '' && vec($rin, fileno(STDIN), 1) && vec($rout, fileno(STDIN), 1)) {
    my $r = sysread(STDIN, $pending, 65536);
    if (!defined $r) { $pending = ''; next if $! == EINTR || $! == EAGAIN; $r = 0 }
    if ($r == 0) { $stdin_open = 0; $pending = ''; shutdown($s, 1) }
  }
}
exit 0;
`;

/** Knobs of {@link portForward}. */
export interface PortForwardOptions {
  readonly logger?: Logger;
  /** Default `perl` from PATH. */
  readonly perlPath?: string;
  /** Default `nsenter` from PATH. */
  readonly nsenterPath?: string;
}

/** The client's side of one forwarded connection, backed by its relay process. */
class ForwardedConnection extends Duplex {
  constructor(
    private readonly relay: ChildProcessWithoutNullStreams,
    private readonly port: number,
  ) {
    super();
    relay.stdin.on("error", () => undefined);
  }

  /** Hands over the relay's output, beginning with the bytes after the connected marker. */
  start(first: Buffer, stderr: () => string): void {
    if (first.length > 0 && !this.push(first)) this.relay.stdout.pause();
    this.relay.stdout.on("data", (c: Buffer) => {
      if (!this.push(c)) this.relay.stdout.pause();
    });
    this.relay.once("close", (code, signal) => {
      if (this.destroyed) return;
      if (code === 0) this.push(null);
      else this.destroy(new Error(`error forwarding port ${this.port}: ${stderr().trim() || (signal ? `relay ended by ${signal}` : `relay exit code ${code}`)}`));
    });
  }

  override _read(): void {
    this.relay.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.relay.stdin.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Half-close: the relay shuts down its sending side and keeps reading.
    this.relay.stdin.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.relay.exitCode === null && this.relay.signalCode === null) this.relay.kill("SIGKILL");
    cb(err);
  }
}

/**
 * Opens one connection to `localhost:port` in the sandbox's network
 * namespace (`target.netnsPath`; the host's for host-network sandboxes).
 * Destroying the stream closes the connection.
 */
export async function portForward(target: RuncStreamTarget, port: number, options: PortForwardOptions = {}): Promise<RuntimeResult<NodeJS.ReadWriteStream>> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail("InvalidArgument", `invalid port ${port}: must be from 1 to 65535`);
  const perl = options.perlPath ?? "perl";
  const where = target.netnsPath ?? "host";
  if (target.netnsPath !== undefined) {
    try {
      await access(target.netnsPath);
    } catch {
      return fail("NotFound", `network namespace ${JSON.stringify(target.netnsPath)} of the sandbox does not exist`);
    }
  }
  const argv =
    target.netnsPath === undefined
      ? [perl, "-e", PORT_FORWARD_RELAY_SCRIPT, String(port)]
      : [options.nsenterPath ?? "nsenter", `--net=${target.netnsPath}`, "--", perl, "-e", PORT_FORWARD_RELAY_SCRIPT, String(port)];
  const relay = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  relay.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });

  const connected = await new Promise<{ first: Buffer } | { code: number | null; spawnError?: Error }>((resolve) => {
    const onData = (c: Buffer) => {
      relay.stdout.removeListener("data", onData);
      relay.stdout.pause();
      resolve({ first: c.subarray(1) });
    };
    relay.stdout.on("data", onData);
    relay.once("error", (spawnError) => resolve({ code: null, spawnError }));
    relay.once("close", (code) => resolve({ code }));
  });

  if (!("first" in connected)) {
    if (connected.spawnError) return fail("Unavailable", `cannot run the port-forward relay (${argv[0]}): ${connected.spawnError.message}`);
    if (connected.code === 2) {
      const lines = stderr.trim().split("\n");
      const v4 = lines.find((l) => l.startsWith("IPv4: ")) ?? "";
      const v6 = lines.find((l) => l.startsWith("IPv6 ")) ?? "";
      return fail("Unavailable", `failed to connect to localhost:${port} inside namespace ${JSON.stringify(where)}, ${v4} ${v6}`.trimEnd());
    }
    return fail("Unknown", `cannot forward port ${port} in namespace ${JSON.stringify(where)}: ${stderr.trim() || `relay exit code ${connected.code}`}`);
  }
  (options.logger ?? silentLogger).debug("port-forward connected", { netns: where, port, relayPid: relay.pid });
  const stream = new ForwardedConnection(relay, port);
  stream.start(connected.first, () => stderr);
  return ok(stream);
}
