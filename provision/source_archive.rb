# The project's source as a .tar.gz for a Vagrant guest to build the package from; required by
# the Vagrantfile, and run by the tests as: ruby provision/source_archive.rb [--walk] ROOT OUT
#
# Only Ruby's standard library (what every Vagrant bundles): no git, tar or gzip binary needed on
# the host. The file list: `git ls-files --cached --others --exclude-standard` when ROOT is a git
# checkout and git runs (the tracked files and new unignored ones, as in the working tree);
# otherwise a walk of ROOT that skips what ROOT/.gitignore lists. Either way .git, .vagrant and
# top-level build*/ directories are never carried. Deterministic: sorted names, owner root, one
# mtime for every entry (the newest file's: a 1970 one would reach the package, which lintian
# rejects) and a fixed gzip time, so an unchanged tree gives the same bytes (and the guest can
# reuse its last build).
require "fileutils"
require "rubygems/package"
require "zlib"

module IspfSourceArchive
  # Never carried, whatever .gitignore says (build*: the developer's build trees).
  ALWAYS_EXCLUDED = [".git", ".vagrant"].freeze
  TOP_LEVEL_EXCLUDED = ["build*"].freeze
  GZIP_MTIME = Time.at(1) # gzip writes "now" for 0
  OWNER = { uid: 0, gid: 0, uname: "root", gname: "root" }.freeze

  module_function

  # Writes the archive to OUT (atomically; left untouched when the bytes are the same) and
  # returns [file count, how the list was made].
  def write(root, out, walk: false)
    files, how = walk ? [walk_files(root), "walk"] : list_files(root)
    mtime = files.map { |rel, _| File.lstat(File.join(root, rel)).mtime.to_i }.max || 0
    FileUtils.mkdir_p(File.dirname(out))
    tmp = "#{out}.#{Process.pid}.tmp"
    File.open(tmp, "wb") do |io|
      gz = Zlib::GzipWriter.new(io, Zlib::BEST_COMPRESSION)
      gz.mtime = GZIP_MTIME
      files.each { |rel, mode| add_entry(gz, root, rel, mode, mtime) }
      gz.write("\0" * 1024) # end of archive: two zero blocks
      gz.finish
    end
    if File.file?(out) && FileUtils.compare_file(tmp, out)
      File.delete(tmp)
    else
      File.rename(tmp, out)
    end
    [files.size, how]
  ensure
    File.delete(tmp) if tmp && File.exist?(tmp)
  end

  # [[relative path, mode]], sorted: from git when it can, else from the walk.
  def list_files(root)
    git = git_files(root)
    git ? [git, "git ls-files"] : [walk_files(root), "walk (no git checkout or no git)"]
  end

  def excluded?(rel)
    parts = rel.split("/")
    parts.any? { |p| ALWAYS_EXCLUDED.include?(p) } ||
      (parts.size > 1 && TOP_LEVEL_EXCLUDED.any? { |g| File.fnmatch(g, parts[0]) })
  end

  def git_files(root)
    return nil unless File.exist?(File.join(root, ".git"))
    # Modes from the index: right even where the file system keeps no exec bit (Windows).
    staged = IO.popen(["git", "-C", root, "ls-files", "-s", "-z"], err: File::NULL, &:read)
    return nil unless $?.success?
    index_mode = {}
    staged.split("\0").each do |line|
      meta, path = line.split("\t", 2)
      index_mode[path] = meta.split(" ")[0]
    end
    listed = IO.popen(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                       "--exclude-standard"], err: File::NULL, &:read)
    return nil unless $?.success?
    listed.split("\0").uniq.sort.map do |rel|
      path = File.join(root, rel)
      # Deleted in the working tree, or a submodule: nothing to carry.
      next if excluded?(rel) || !File.exist?(path) || File.directory?(path)
      mode = index_mode[rel]
      [rel, mode ? Integer(mode[-3, 3], 8) : fs_mode(path)]
    end.compact
  rescue SystemCallError # no git binary
    nil
  end

  def walk_files(root)
    rules = gitignore_rules(root)
    out = []
    walk = lambda do |dir_rel|
      Dir.children(dir_rel.empty? ? root : File.join(root, dir_rel)).sort.each do |name|
        rel = dir_rel.empty? ? name : "#{dir_rel}/#{name}"
        path = File.join(root, rel)
        dir = File.directory?(path) && !File.symlink?(path)
        next if excluded?(dir ? "#{rel}/x" : rel) || ignored?(rules, rel, dir)
        dir ? walk.call(rel) : out << [rel, fs_mode(path)]
      end
    end
    walk.call("")
    out.sort_by(&:first)
  end

  # ROOT/.gitignore's patterns (only that file; negations are not supported and are skipped).
  def gitignore_rules(root)
    file = File.join(root, ".gitignore")
    return [] unless File.file?(file)
    File.readlines(file, chomp: true).map do |line|
      line = line.strip
      next if line.empty? || line.start_with?("#", "!")
      dir_only = line.end_with?("/")
      line = line.chomp("/")
      anchored = line.include?("/")
      { pattern: line.delete_prefix("/"), dir_only: dir_only, anchored: anchored }
    end.compact
  end

  def ignored?(rules, rel, dir)
    rules.any? do |r|
      next false if r[:dir_only] && !dir
      subject = r[:anchored] ? rel : File.basename(rel)
      File.fnmatch(r[:pattern], subject, File::FNM_PATHNAME | File::FNM_DOTMATCH)
    end
  end

  # Without git's index: the exec bit where the file system has one, else a #! line.
  def fs_mode(path)
    executable = if Gem.win_platform?
                   File.open(path, "rb") { |f| f.read(2) } == "#!"
                 else
                   File.executable?(path)
                 end
    executable ? 0o755 : 0o644
  end

  def add_entry(io, root, rel, mode, mtime)
    path = File.join(root, rel)
    name, prefix = split_name(rel)
    if File.symlink?(path)
      header = Gem::Package::TarHeader.new(name: name, prefix: prefix, mode: 0o777, size: 0,
                                           typeflag: "2", linkname: File.readlink(path), mtime: mtime,
                                           **OWNER)
      io.write(header.to_s)
      return
    end
    data = File.binread(path)
    header = Gem::Package::TarHeader.new(name: name, prefix: prefix, mode: mode, size: data.bytesize,
                                         typeflag: "0", mtime: mtime, **OWNER)
    io.write(header.to_s)
    io.write(data)
    padding = -data.bytesize % 512
    io.write("\0" * padding) if padding.positive?
  end

  # ustar: a name of up to 100 bytes, with up to 155 more before a "/" in the prefix field.
  def split_name(rel)
    return [rel, ""] if rel.bytesize <= 100
    parts = rel.split("/")
    (1...parts.size).each do |i|
      prefix = parts[0...i].join("/")
      name = parts[i..-1].join("/")
      return [name, prefix] if name.bytesize <= 100 && prefix.bytesize <= 155
    end
    raise ArgumentError, "#{rel}: path too long for a ustar archive"
  end
end

if $PROGRAM_NAME == __FILE__
  args = ARGV.dup
  walk = !args.delete("--walk").nil?
  abort("usage: ruby #{$PROGRAM_NAME} [--walk] ROOT OUT.tar.gz") unless args.size == 2
  root, out = args.map { |a| File.expand_path(a) }
  count, how = IspfSourceArchive.write(root, out, walk: walk)
  puts "#{out}: #{count} files (#{how}), #{File.size(out)} bytes"
end
