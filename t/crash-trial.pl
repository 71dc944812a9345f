#!/usr/bin/perl
# crash-trial.pl: kill the daemon at random points of a scripted incident
# and count what was lost or done twice.
#
# Each "world" is a fresh sandbox and daemon running one incident: "new
# incident", the incident-manager page (button and modal), "new channel
# KEY", and in the new channel an incident manager pages TARGETS
# shortcuts and confirms. While it runs, the daemon is SIGKILLed and
# restarted on the same state dir: at a random time, or right after the
# sandbox did the work of a call whose answer it then withholds (an
# "after" fault that never answers or answers late), which is where
# duplicates are born. Other faults (5xx, resets, late answers after the
# work) are armed at random too. Each kill is one trial.
#
# Afterwards, from the fakes' own state: one Jira issue per "new
# incident", one Slack channel per incident (no "-2"), the incident
# manager and every target paged exactly once (PagerDuty incidents plus
# responder requests per target), every command answered in Slack and
# every acknowledged click carried out, and "incidentd dump" valid JSON
# with no job left unfinished. Then the incident's aftermath (follow.c):
# an AAR date, an overdue corrective action and the ticket closed; the
# poller runs every second and archives the channel 2 s after the close.
# The owner must get the AAR notice, the assignee the reminder, and the
# channel must be archived; the poller must decide each exactly once (one
# job each in the dump). A click Slack was never told about (not
# acknowledged, as when the daemon died first) is clicked again, as a
# person would.
#
# usage: perl t/crash-trial.pl [--trials N] [--seed S] [--targets N]
#            [--kills-per-world N] [--verbose]
# The seed is printed; CRASH_SEED=S replays a plan (the timing is real,
# so a replay is close, not identical). Needs INCIDENTD and SANDBOX (as
# make check sets them). The last line is "trials N, lost N, duplicated
# N"; the exit status is 0 only when both counts are 0.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Getopt::Long;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use IncidentTest;

my %opt = (trials => 20, targets => 50, 'kills-per-world' => 2);
GetOptions(\%opt, 'trials=i', 'seed=i', 'targets=i', 'kills-per-world=i',
    'verbose') or die "usage: $0 [--trials N] [--seed S] [--targets N] " .
    "[--kills-per-world N] [--verbose]\n";
die "--trials, --targets and --kills-per-world must be positive\n"
    if $opt{trials} < 1 || $opt{targets} < 1 || $opt{targets} > 99 ||
    $opt{'kills-per-world'} < 1;
my $seed = $opt{seed} // $ENV{CRASH_SEED} // (time() * 1000 ^ $$) % 2**31;
die "CRASH_SEED must be a number\n" unless $seed =~ /^\d+$/;
srand($seed);
$| = 1;
print "crash-trial: seed $seed (CRASH_SEED=$seed replays the plan)\n";

my $JSON = JSON::PP->new->canonical->allow_nonref;
my ($trials, $lost, $dup) = (0, 0, 0);
my @details;
my $est = 3;		# seconds a world's script takes; learnt as we go
my $worlds = 0;
# Job states that mean the job is over (anything else is unfinished).
my $TERMINAL = qr/^(done|failed|cancell?ed|abandoned|skipped|finished)$/;

sub note { print "  $_[0]\n" if $opt{verbose} }

# Paths where faults strike; "kill" ones also hold the answer back.
my @FAULT_PATHS = (
	[ jira => '/issue' ],
	[ pagerduty => '/incidents' ],
	[ pagerduty => '/responder_requests' ],
	[ slack => 'conversations.create' ],
	[ slack => 'chat.postMessage' ],
	[ slack => 'chat.update' ],
	[ slack => 'conversations.invite' ],
	[ slack => 'conversations.setTopic' ],
	[ slack => 'conversations.archive' ],
	[ slack => 'users.lookupByEmail' ],
	[ jira => '/search' ],
);

sub pick { return $_[int(rand(@_))] }

while ($trials < $opt{trials}) {
	my $k = $opt{'kills-per-world'};
	$k = $opt{trials} - $trials if $k > $opt{trials} - $trials;
	world($k);
}
print "trials $trials, lost $lost, duplicated $dup\n";
print "$_\n" for @details;
exit($lost || $dup ? 1 : 0);

############################################################ one world

sub world {
	my ($nkills) = @_;
	my $w = { n => ++$worlds, lost => [], dup => [], kills => [],
	    reclicks => 0, restarts => 0 };
	my $sb = new_sandbox(args => ['--ack-timeout', '1']);
	$w->{sb} = $sb;
	$sb->post('/control/pagerduty/ratelimit', { per_minute => 1000000 });
	my (%shortcuts, %ep_of);
	for my $i (1 .. $opt{targets}) {
		my $id = sprintf('PCT%05d', $i);
		my $r = $sb->post('/control/pagerduty/service', {
		    name => "Crash Team $i", id => $id,
		    oncall => $i % 2 ? 'bob@example.com' : 'dave@example.com' });
		$ep_of{$id} = $r->{service}{escalation_policy}{id} //
		    die "service $id: no escalation policy: " .
		    $JSON->encode($r);
		$shortcuts{sprintf('c%02d', $i)} = { service => $id,
		    description => "Crash team $i" };
	}
	$w->{targets} = \%shortcuts;
	$w->{ep_of} = \%ep_of;
	my $d = new_incidentd($sb, pagerduty => { shortcuts => \%shortcuts,
	    max_concurrency => 8 }, jira => { aar_field => 'customfield_10054' },
	    schedule => { poll_interval => '1s', archive_after => '2s' });
	$w->{d} = $d;
	$w->{hello} = 0;
	await_connection($w) or return abandon($w, 'no Socket Mode connection');

	# The kill plan: at a time, or inside a call whose work is done.
	my $t0 = $w->{t0} = time;
	for (1 .. $nkills) {
		if (rand() < 0.5) {
			push @{$w->{plan}}, { at => $t0 + 0.2 + rand($est) };
		} else {
			my ($svc, $match) = @{pick(@FAULT_PATHS)};
			my %f = (service => $svc, match => $match,
			    after => JSON::PP::true, count => 1);
			if (rand() < 0.5) {
				$f{never} = JSON::PP::true;
			} else {
				$f{delay_ms} = 2000 + int(rand(6000));
			}
			$sb->fault(%f);
			push @{$w->{plan}}, { fault => \%f,
			    grace => rand(0.3) };
		}
	}
	# Faults that only make the daemon retry.
	for (1 .. 1 + int(rand(3))) {
		my ($svc, $match) = @{pick(@FAULT_PATHS)};
		my $st = pick(500, 502, 503, 504, -1, 0);
		$sb->fault(service => $svc, match => $match, status => $st,
		    after => rand() < 0.7 ? JSON::PP::true : JSON::PP::false,
		    count => 1 + int(rand(2)),
		    $st == 0 ? (delay_ms => 200 + int(rand(2500))) : ());
	}
	note("world $w->{n}: " . $JSON->encode([ map { $_->{fault} //
	    sprintf('kill at +%.2fs', $_->{at} - $t0) } @{$w->{plan}} ]));

	script($w);
	$est = ($est + (time - $t0)) / 2 if !@{$w->{lost}};
	# Kills that never came due happen now, with the work done.
	for my $p (@{$w->{plan}}) {
		kill_restart($w, 'after the script') if !$p->{done};
	}
	$sb->post('/control/faults/clear');
	quiesce($w);
	step($w, 'quiet');
	check($w);
	report($w);
	$d->stop;
	$sb->stop;
}

sub abandon {
	my ($w, $why) = @_;
	push @{$w->{lost}}, "world abandoned: $why";
	report($w);
	return;
}

sub report {
	my ($w) = @_;
	my $kills = scalar @{$w->{kills}};
	$trials += $kills;
	$lost += @{$w->{lost}};
	$dup += @{$w->{dup}};
	my $where = join('; ', @{$w->{kills}});
	my $line = sprintf("world %d: %d kill(s) [%s], %d re-click(s)",
	    $w->{n}, $kills, $where, $w->{reclicks});
	print "$line\n" if $opt{verbose};
	for (@{$w->{lost}}) {
		push @details, "world $w->{n}: lost: $_ (kills: $where)";
	}
	for (@{$w->{dup}}) {
		push @details, "world $w->{n}: duplicated: $_ (kills: $where)";
	}
	# What the daemon said about it: its warnings and the jobs' ends.
	if ((@{$w->{lost}} || @{$w->{dup}}) && $w->{d}) {
		my @l = grep { /warn|error|fatal|starting|ticket|: done|failed|
		    gave up|not again|resum/x } split(/\n/, $w->{d}->log);
		splice(@l, 0, @l - 40) if @l > 40;
		push @details, map { "world $w->{n}: log: " .
		    substr($_, 0, 200) } @l;
	}
}

############################################################ kills

# The daemon's Socket Mode link is up (a new hello since the last look).
sub await_connection {
	my ($w) = @_;
	my $ok = wait_for(sub {
		alive($w);
		my $c = $w->{sb}->connections;
		return $c && ($c->{hello_sent} // 0) > $w->{hello} &&
		    @{$c->{connections} // []};
	}, 'Socket Mode connection', 30);
	$w->{hello} = $w->{sb}->connections->{hello_sent} // 0 if $ok;
	return $ok;
}

# A daemon that died by itself is a finding; start it again.
sub alive {
	my ($w) = @_;
	my $d = $w->{d};
	return 1 if !$d->{pid};
	return 1 if waitpid($d->{pid}, WNOHANG) != $d->{pid};
	my $st = $?;
	delete $d->{pid};
	push @{$w->{lost}}, "the daemon exited by itself (status $st)";
	$d->start;
	return 0;
}

sub kill_restart {
	my ($w, $where) = @_;
	my $d = $w->{d};
	$d->kill9;
	push @{$w->{kills}}, $where;
	note("kill: $where");
	$d->start;
	$w->{restarts}++;
	await_connection($w) or
	    push @{$w->{lost}}, "no Socket Mode connection after a restart";
}

# Is a planned kill due? A fault kill is due once the sandbox has done
# the work of the held call.
sub maybe_kill {
	my ($w) = @_;
	for my $p (@{$w->{plan} // []}) {
		next if $p->{done};
		if ($p->{at}) {
			next if time < $p->{at};
			$p->{done} = 1;
			kill_restart($w, sprintf('at +%.2fs', $p->{at} -
			    $w->{t0}));
			return 1;
		}
		if (!$p->{hit}) {
			my $f = $p->{fault};
			my $r = $w->{sb}->get('/control/requests?service=' .
			    "$f->{service}&since=" . ($p->{since} // 0) .
			    "&match=$f->{match}");
			my ($h) = grep { exists $_->{processed_status} }
			    @{$r->{requests}};
			# The fault takes the first request it matches.
			$p->{since} = $r->{next} if !$h;
			next if !$h;
			$p->{hit} = time;
			$p->{where} = "in $h->{method} $h->{path} (" .
			    ($f->{never} ? 'never answered' :
			    "answered $f->{delay_ms} ms late") . ')';
		}
		next if time < $p->{hit} + $p->{grace};
		$p->{done} = 1;
		kill_restart($w, $p->{where});
		return 1;
	}
	return 0;
}

# wait_for that lets the planned kills happen meanwhile; deadlines scale
# as the test library's do (a sanitizer or valgrind run).
sub cwait {
	my ($w, $cond, $desc, $timeout) = @_;
	my $deadline = time + ($timeout // 30) * $IncidentTest::TIMEOUT_FACTOR;
	while (time < $deadline) {
		maybe_kill($w);
		alive($w);
		my $v = $cond->();
		return $v if $v;
		sleep(0.05);
	}
	note("timed out: $desc");
	return;
}

############################################################ the script

sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}

sub new_posts {
	my ($w, $ch, $seen) = @_;
	return grep { !$seen->{$_->{ts}} } $w->{sb}->bot_posts($ch);
}

sub seen { my ($w, $ch) = @_; return { map { $_->{ts} => 1 } $w->{sb}->bot_posts($ch) } }

# Say something to the bot and wait for a new bot post matching re; a
# command that got no reply, or not the one expected, is lost. The wait
# covers the slowest legitimate path: a create whose answer was lost,
# found by neither of two probes 8 s apart, sent again after backoff,
# with retry faults on the way and the machine loaded.
sub command {
	my ($w, $ch, $user, $text, $re) = @_;
	my $short = length($text) > 40 ? substr($text, 0, 40) . '...' : $text;
	cwait($w, sub { $w->{sb}->connections->{open} }, 'connected', 30);
	my $seen = seen($w, $ch);
	$w->{sb}->message(channel => $ch, user => $user,
	    text => "<\@U0BOT> $text");
	my $p;
	cwait($w, sub { ($p) = grep { alltext($_) =~ $re }
	    new_posts($w, $ch, $seen); $p }, "reply to '$short'", 60);
	return $p if $p;
	my @other = map { alltext($_) } new_posts($w, $ch, $seen);
	push @{$w->{lost}}, @other ? "'$short' answered, but: " .
	    substr(join(' | ', @other), 0, 300) : "no reply to '$short'";
	return;
}

sub acked {
	my ($w, $env) = @_;
	return 0 if !defined $env;
	my $a = $w->{sb}->get('/control/slack/acks');
	return grep { $_->{envelope_id} eq $env } @{$a->{acks} // []};
}

# Do an interaction (click, submit) until it takes effect; one that was
# acknowledged must take effect (else it is lost), one that was not
# is done again, as the person would.
sub interact {
	my ($w, $desc, $do, $effect, $timeout, $ui_only) = @_;
	for my $try (1 .. 5) {
		cwait($w, sub { $w->{sb}->connections->{open} }, 'connected',
		    30);
		# Only a kill during this try can explain a missing ack.
		$w->{kills_seen} = @{$w->{kills}};
		my $env = $do->();
		# Not delivered, or the daemon died before acknowledging: the
		# person sees an error and tries again.
		cwait($w, sub { !defined $env || $effect->() ||
		    (!acked($w, $env) && $w->{kills_seen} != @{$w->{kills}}) },
		    $desc, $timeout);
		my $e = $effect->();
		return $e if $e;
		if (acked($w, $env) && !$ui_only) {
			# Acknowledged as the kill struck: the restarted daemon
			# owes the effect; give it the full time.
			$e = cwait($w, $effect, $desc, $timeout);
			return $e if $e;
			push @{$w->{lost}}, "$desc: acknowledged, never done";
			return;
		}
		$w->{kills_seen} = @{$w->{kills}};
		$w->{reclicks}++;
	}
	push @{$w->{lost}}, "$desc: never done after 5 tries";
	return;
}

sub step { note(sprintf('+%.2fs %s', time - $_[0]{t0}, $_[1])) }

sub script {
	my ($w) = @_;
	my $sb = $w->{sb};
	$w->{kills_seen} = 0;
	my $summary = "Crash trial $w->{n}";
	$w->{summary} = $summary;

	step($w, 'new incident');
	my $p = command($w, 'C0GENERAL', 'U0ALICE', "new incident $summary",
	    qr/INC-\d+/) or return;
	my ($key) = alltext($p) =~ /(INC-\d+)/;
	$w->{key} = $key;
	my $prompt_ts = $p->{ts};
	my $prompt = sub {
		my ($m) = grep { $_->{ts} eq $prompt_ts }
		    $sb->messages('C0GENERAL');
		return $m // {};
	};

	# The incident-manager page: a click opens a modal (only while the
	# trigger is fresh, so a crash there means clicking again).
	my $view;
	my $nviews = 0;
	interact($w, 'page button opens the modal', sub {
		$nviews = @{$sb->get('/control/slack/views')->{views}};
		my $r = $sb->post('/control/slack/click', { user => 'U0ALICE',
		    channel => 'C0GENERAL', message_ts => $prompt_ts,
		    action_id => 'im_page' });
		return $r->{envelope_id};
	}, sub {
		my @v = @{$sb->get('/control/slack/views')->{views}};
		($view) = grep { !$_->{closed} &&
		    ($_->{view}{callback_id} // '') eq 'im_page_modal' }
		    @v[$nviews .. $#v];
		return $view;
	}, 10, 1) or return;
	step($w, 'incident-manager modal submitted');
	$w->{im_submitted} = 1;
	interact($w, 'incident-manager page', sub {
		my $r = $sb->post('/control/slack/submit', { user => 'U0ALICE',
		    view_id => $view->{id}, values => {} });
		return $r->{envelope_id};
	}, sub { alltext($prompt->()) =~ /paged by/ ||
	    $JSON->encode($prompt->()) =~ /paged by/ }, 30);

	step($w, 'new channel');
	$w->{nc_sent} = 1;
	$p = command($w, 'C0GENERAL', 'U0ALICE', "new channel $key",
	    qr/<#C\w+/) or return;
	my ($cid) = alltext($p) =~ /<#(C\w+)/;
	$w->{channel} = $cid;

	my $targets = join(' ', sort keys %{$w->{targets}});
	my $n = $opt{targets};
	$p = command($w, $cid, 'U0CAROL', "page $targets",
	    qr/\*\Q$n\E\* target/) or return;
	my $seen = seen($w, $cid);
	step($w, 'page confirmed');
	$w->{confirmed} = 1;
	interact($w, 'page confirmation', sub {
		my $r = $sb->post('/control/slack/click', { user => 'U0CAROL',
		    channel => $cid, message_ts => $p->{ts},
		    action_id => 'page_confirm' });
		return $r->{envelope_id};
	}, sub { grep { alltext($_) =~ /of \Q$n\E\* target\(s\) paged/ }
	    new_posts($w, $cid, $seen) }, 30) or return;

	# After the incident: the AAR, a corrective action, the close.
	step($w, 'after the incident');
	my @t = gmtime(time + 3 * 86400);
	my $aar = sprintf('%04d-%02d-%02dT15:00:00.000+0000', $t[5] + 1900,
	    $t[4] + 1, $t[3]);
	@t = gmtime(time - 2 * 86400);
	my $due = sprintf('%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3]);
	$sb->post('/control/jira/edit', { key => $key,
	    fields => { customfield_10054 => $aar } });
	my $act = $sb->post('/control/jira/issue', { project => 'OPS',
	    issuetype => 'Task', summary => "Fix for $summary",
	    assignee => 'bob@example.com', labels => ['corrective-action'],
	    duedate => $due });
	$w->{action} = $act->{key};
	$sb->post('/control/jira/link', { from => $act->{key}, to => $key,
	    type => 'Relates' });
	$sb->post('/control/jira/transition', { key => $key,
	    status => 'Done' });
	$w->{after} = 1;
	cwait($w, sub { is_archived($w, $cid) }, 'channel archived', 30);
}

sub is_archived {
	my ($w, $cid) = @_;
	my ($c) = grep { $_->{id} eq $cid }
	    @{$w->{sb}->get('/control/slack/channels')->{channels} // []};
	return $c && $c->{is_archived};
}

############################################################ checks

sub dump_state {
	my ($w) = @_;
	# stdout is the JSON; stderr (config warnings, errors) is kept apart.
	my $err = $w->{d}->conf_path . '.dump-stderr';
	my $out = `'$ENV{INCIDENTD}' -c '${\ $w->{d}->conf_path}' dump 2>'$err'`;
	my $st = $?;
	my $j = eval { $JSON->decode($out) };
	if (!$j && open(my $fh, '<', $err)) {
		local $/;
		$out = <$fh> . $out;
	}
	return ($j, $st, $out);
}

sub unfinished {
	my ($j) = @_;
	my $jobs = $j->{databases}{jobs} // {};
	# Jobs due well after the trial are at rest, not left behind: the
	# next Jira or PagerDuty poll, a no-answer nudge, an AAR's date. One
	# due within a minute (an archive, a retry) is waited for.
	my $now_ms = (time + 60) * 1000;
	return grep { ($jobs->{$_}{state} // '') !~ $TERMINAL &&
	    !/^(jira_poll|pd_watch)\// &&
	    !(($jobs->{$_}{state} // '') eq 'queued' &&
	    ($jobs->{$_}{due} // 0) > $now_ms) } sort keys %$jobs;
}

# Let the restarted daemon finish what it resumed.
sub quiesce {
	my ($w) = @_;
	my $deadline = time + 30;
	while (time < $deadline) {
		alive($w);
		my ($j) = dump_state($w);
		return 1 if $j && !unfinished($j);
		sleep(0.25);
	}
	note('timed out: every job finished');
	return 0;
}

sub check {
	my ($w) = @_;
	my $sb = $w->{sb};
	my ($lost, $dup) = ($w->{lost}, $w->{dup});

	# One Jira issue per "new incident".
	my @issues = grep { $_->{summary} eq $w->{summary} }
	    @{$sb->get('/control/jira/issues')->{issues} // []};
	push @$lost, "no Jira issue for '$w->{summary}'" if !@issues;
	push @$dup, scalar(@issues) . " Jira issues for '$w->{summary}': " .
	    join(', ', map { $_->{key} } @issues) if @issues > 1;
	my $key = $w->{key} // (@issues ? $issues[0]{key} : undef);

	# One channel per incident.
	if (defined $key && $w->{nc_sent}) {
		my $base = 'inc-' . lc($key);
		my @ch = grep { ($_->{name} // '') =~ /^\Q$base\E(?:-\d+)?$/ }
		    @{$sb->get('/control/slack/channels')->{channels} // []};
		push @$lost, "no channel for $key" if !@ch;
		push @$dup, scalar(@ch) . " channels for $key: " .
		    join(', ', map { "#$_->{name}" } @ch) if @ch > 1;
		push @$dup, "channel #$ch[0]{name} for $key (not #$base)"
		    if @ch == 1 && $ch[0]{name} ne $base;
	}

	# Pages: PSVCIM once, every target once (an incident of its own or
	# a responder request on the incident's PagerDuty incident).
	my @inc = @{$sb->get('/control/pagerduty/incidents')->{incidents}
	    // []};
	my %n;
	for my $i (@inc) {
		$n{$i->{service}{id}}++;
		for my $rr (@{$i->{responder_requests} // []}) {
			for my $t (@{$rr->{responder_request_targets} // []}) {
				my $tg = $t->{responder_request_target};
				$n{"ep:$tg->{id}"}++;
			}
		}
	}
	if ($w->{im_submitted}) {
		my $c = $n{PSVCIM} // 0;
		push @$lost, 'the incident manager was never paged' if !$c;
		push @$dup, "the incident manager was paged $c times"
		    if $c > 1;
	}
	if ($w->{confirmed}) {
		for my $sc (sort keys %{$w->{targets}}) {
			my $id = $w->{targets}{$sc}{service};
			my $c = ($n{$id} // 0) + ($n{"ep:$w->{ep_of}{$id}"} // 0);
			push @$lost, "target $sc ($id) never paged" if !$c;
			push @$dup, "target $sc ($id) paged $c times" if $c > 1;
		}
	}

	# The daemon's own state.
	my ($j, $st, $out) = dump_state($w);
	if (!$j || $st != 0) {
		push @$lost, "dump: not valid JSON (status $st): " .
		    substr($out, 0, 200);
		return;
	}
	my $jobs = $j->{databases}{jobs} // {};

	# After the incident: each notice sent, each decided once.
	if ($w->{after} && defined $key) {
		my $aar = grep { alltext($_) =~ /After-action review.*\Q$key\E/s }
		    $sb->bot_posts('D0ALICE');
		push @$lost, "no AAR notice for $key" if !$aar;
		my $act = $w->{action} // '?';
		my $rem = grep { alltext($_) =~ /\Q$act\E.*not done yet/s }
		    $sb->bot_posts('D0BOB');
		push @$lost, "no overdue reminder for $act" if !$rem;
		push @$lost, "the channel of $key was not archived"
		    if $w->{channel} && !is_archived($w, $w->{channel});
		for my $k ("aar_notice/$key.", "followup_overdue/$act.",
		    "archive/$key.") {
			my $c = grep { index($_, $k) == 0 } keys %$jobs;
			push @$dup, "$c jobs $k*: decided more than once"
			    if $c > 1;
		}
	}
	push @$lost, "dump: job $_ left '" . ($jobs->{$_}{state} // '?') . "'"
	    for unfinished($j);
	if (defined $key) {
		my $rec = $j->{databases}{incidents}{$key};
		if (!$rec) {
			push @$lost, "dump: no incident record for $key";
		} elsif ($w->{im_submitted} &&
		    ($rec->{im_page}{state} // '') ne 'paged') {
			push @$lost, "dump: $key incident-manager page left '" .
			    ($rec->{im_page}{state} // '?') . "'";
		}
	}
}
