# manifest.t: conf/slack-app-manifest.yaml is a valid Slack app manifest
# (Slack's JSON Schema, copied into t/specs/) and grants a scope for every
# Web API method the daemon calls (the sandbox's method -> scopes table,
# derived from the Web API spec; the sandbox parses the YAML).
use strict;
use warnings;
use Test::More;
use B;
use JSON::PP;
use IncidentTest;

my $top = $ENV{top_srcdir} // '.';
my $sb = new_sandbox();
my $m = $sb->get('/control/slack/manifest');
ok($m->{manifest}, 'the sandbox read the shipped manifest')
    or BAIL_OUT('no manifest');
my $manifest = $m->{manifest};
my %granted = map { $_ => 1 } @{$m->{granted}};
my $table = $sb->get('/control/slack/scopes')->{methods};
ok($table && %$table, 'method -> scopes table');

# (a) Every method the daemon calls is covered.
my (%called, %named);
for my $f (glob("$top/src/*.c")) {
	my $src = slurp($f);
	(my $short = $f) =~ s{.*/}{};
	while ($src =~ /\b(?:slack_call|slack_call_app|timeline_history_call)
	    \s*\(\s*"([^"]+)"/gx) {
		$called{$1}{$short} = 1;
	}
	# Any other mention of a method the table knows (form-method lists).
	while ($src =~ /"([a-z]+(?:\.[A-Za-z]+)+)"/g) {
		$named{$1}{$short} = 1 if exists $table->{$1};
	}
}
ok(keys %called >= 10, scalar(keys %called) . ' methods called from src/');
for my $meth (sort keys %called) {
	ok(exists $table->{$meth}, "$meth: in the scope table") or next;
}
for my $meth (sort(keys %{{ %called, %named }})) {
	next unless exists $table->{$meth};
	my @s = @{$table->{$meth}};
	my $where = join(',', sort keys %{$called{$meth} // $named{$meth}});
	ok(!@s || grep({ $granted{$_} } @s),
	    "$meth ($where): granted one of " . (join(' ', @s) || 'none'));
}
# Least privilege: every granted scope is needed by a method the daemon
# names or by a subscribed event.
my %event_scope = ('app_mention' => 'app_mentions:read',
    'message.channels' => 'channels:history',
    'message.groups' => 'groups:history', 'message.im' => 'im:history',
    'message.mpim' => 'mpim:history', 'reaction_added' => 'reactions:read',
    'reaction_removed' => 'reactions:read');
my %used;
for my $meth (keys %{{ %called, %named }}) {
	$used{$_} = 1 for @{$table->{$meth} // []};
}
my @events = @{$manifest->{settings}{event_subscriptions}{bot_events} // []};
for my $e (@events) {
	ok(exists $event_scope{$e}, "event $e: its scope is known") or next;
	ok($granted{$event_scope{$e}}, "event $e: $event_scope{$e} granted");
	$used{$event_scope{$e}} = 1;
}
# usergroups:read is for the access allow-lists (usergroups.users.list).
$used{'usergroups:read'} = 1;
for my $s (sort keys %granted) {
	ok($used{$s}, "granted $s is used");
}
is_deeply($manifest->{features}{app_home}, { home_tab_enabled =>
    JSON::PP::false, messages_tab_enabled => JSON::PP::true,
    messages_tab_read_only_enabled => JSON::PP::false },
    'Messages tab open (people can DM the bot)');
ok($manifest->{settings}{socket_mode_enabled}, 'Socket Mode');
ok($manifest->{settings}{interactivity}{is_enabled}, 'interactivity');

# (b) Valid against Slack's schema for its major version.
is($manifest->{_metadata}{major_version}, 1, 'major_version 1');
my $schema = JSON::PP->new->decode(slurp("$top/t/specs/slack_manifest.schema.json"));

sub is_num {
	my ($v) = @_;
	return 0 if !defined $v || ref $v;
	my $f = B::svref_2object(\$v)->FLAGS;
	return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK);
}

sub type_ok {
	my ($v, $t) = @_;
	return ref $v eq 'HASH' if $t eq 'object';
	return ref $v eq 'ARRAY' if $t eq 'array';
	return JSON::PP::is_bool($v) if $t eq 'boolean';
	return !defined $v if $t eq 'null';
	return 0 if !defined $v || ref $v;
	return is_num($v) && $v == int($v) if $t eq 'integer';
	return is_num($v) if $t eq 'number';
	return !is_num($v) if $t eq 'string';
	die "schema: unknown type $t";
}

my %ANNOTATION = map { $_ => 1 } qw($schema title description default
    examples format regex hint definitions);

# Errors of value $v against schema $s at $path ("" when valid).
sub validate {
	my ($v, $s, $path) = @_;
	my @err;
	if (exists $s->{'$ref'}) {
		my ($name) = $s->{'$ref'} =~ m{^#/definitions/(.+)$}
		    or die "schema: unsupported \$ref $s->{'$ref'}";
		my $d = $schema->{definitions}{$name}
		    or die "schema: no definition $name";
		return validate($v, $d, $path);
	}
	for my $k (keys %$s) {
		next if $ANNOTATION{$k};
		die "schema: keyword $k not supported" unless $k =~ /^(type|
		    properties|required|additionalProperties|patternProperties|
		    items|enum|pattern|minLength|maxLength|minItems|maxItems|
		    uniqueItems|minProperties|maxProperties|anyOf)$/x;
	}
	if (exists $s->{type}) {
		my @t = ref $s->{type} ? @{$s->{type}} : ($s->{type});
		return ("$path: not of type @t")
		    unless grep { type_ok($v, $_) } @t;
	}
	if (exists $s->{enum}) {
		push @err, "$path: not one of the enum" unless grep {
		    JSON::PP->new->canonical->allow_nonref->encode($_) eq
		    JSON::PP->new->canonical->allow_nonref->encode($v) }
		    @{$s->{enum}};
	}
	if (exists $s->{anyOf}) {
		push @err, "$path: matches none of anyOf" unless grep {
		    !validate($v, $_, $path) } @{$s->{anyOf}};
	}
	if (defined $v && !ref $v && !is_num($v)) {
		my $len = length($v);
		push @err, "$path: shorter than $s->{minLength}"
		    if defined $s->{minLength} && $len < $s->{minLength};
		push @err, "$path: longer than $s->{maxLength}"
		    if defined $s->{maxLength} && $len > $s->{maxLength};
		push @err, "$path: does not match $s->{pattern}"
		    if defined $s->{pattern} && $v !~ /$s->{pattern}/;
	}
	if (ref $v eq 'ARRAY') {
		push @err, "$path: fewer than $s->{minItems} items"
		    if defined $s->{minItems} && @$v < $s->{minItems};
		push @err, "$path: more than $s->{maxItems} items"
		    if defined $s->{maxItems} && @$v > $s->{maxItems};
		if ($s->{uniqueItems}) {
			my %seen;
			my $j = JSON::PP->new->canonical->allow_nonref;
			push @err, "$path: items not unique"
			    if grep { $seen{$j->encode($_)}++ } @$v;
		}
		if (ref $s->{items} eq 'HASH') {
			push @err, validate($v->[$_], $s->{items}, "$path\[$_]")
			    for 0 .. $#$v;
		}
	}
	if (ref $v eq 'HASH') {
		my $n = keys %$v;
		push @err, "$path: fewer than $s->{minProperties} keys"
		    if defined $s->{minProperties} && $n < $s->{minProperties};
		push @err, "$path: more than $s->{maxProperties} keys"
		    if defined $s->{maxProperties} && $n > $s->{maxProperties};
		for my $r (@{$s->{required} // []}) {
			push @err, "$path: $r is required" unless exists $v->{$r};
		}
		for my $k (sort keys %$v) {
			my $matched = 0;
			if (my $ps = ($s->{properties} // {})->{$k}) {
				push @err, validate($v->{$k}, $ps, "$path.$k");
				$matched = 1;
			}
			for my $re (keys %{$s->{patternProperties} // {}}) {
				next unless $k =~ /$re/;
				push @err, validate($v->{$k},
				    $s->{patternProperties}{$re}, "$path.$k");
				$matched = 1;
			}
			next if $matched;
			my $ap = $s->{additionalProperties};
			if (defined $ap && !ref $ap && !$ap ||
			    JSON::PP::is_bool($ap) && !$ap) {
				push @err, "$path: unknown key $k";
			} elsif (ref $ap eq 'HASH') {
				push @err, validate($v->{$k}, $ap, "$path.$k");
			}
		}
	}
	return @err;
}

my @err = validate($manifest, $schema, '');
is_deeply(\@err, [], 'the manifest is valid against the schema')
    or diag(join("\n", @err));

# The validator must fail bad manifests.
sub copy { return JSON::PP->new->decode(JSON::PP->new->encode($_[0])) }
my $bad = copy($manifest);
$bad->{features}{app_home}{messages_tab} = JSON::PP::true;
like(join("\n", validate($bad, $schema, '')), qr/unknown key messages_tab/,
    'an unknown key is rejected');
$bad = copy($manifest);
$bad->{settings}{socket_mode_enabled} = 'yes';
like(join("\n", validate($bad, $schema, '')),
    qr/socket_mode_enabled: not of type boolean/, 'a wrong type is rejected');
$bad = copy($manifest);
$bad->{oauth_config}{scopes}{bot} = 'chat:write';
like(join("\n", validate($bad, $schema, '')), qr/bot: not of type array/,
    'a scalar for a list is rejected');
$bad = copy($manifest);
delete $bad->{display_information};
like(join("\n", validate($bad, $schema, '')),
    qr/display_information is required/, 'a missing required key');
$bad = copy($manifest);
$bad->{display_information}{name} = 'x' x 36;
like(join("\n", validate($bad, $schema, '')), qr/name: longer than 35/,
    'a name over 35 characters');
$bad = copy($manifest);
$bad->{_metadata}{major_version} = '1';
like(join("\n", validate($bad, $schema, '')),
    qr/major_version: not of type integer/, 'a string for an integer');

# A method the table does not know fails (a).
ok(!exists $table->{'chat.scheduleMessage'},
    'the table is not a catch-all');

done_testing();
