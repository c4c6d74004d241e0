//! `lic video encode|decode|train`: the video mode (see `lic::video`).

mod decode;
mod encode;
pub use encode::is_mcw;
mod train;

const EXAMPLES: &str = "\
Examples:
  lic video encode clip.y4m clip.licv --quality 3 --gop 32
  lic video encode clip.mp4 clip.licv --frames 64          # any input FFmpeg reads
  lic video decode clip.licv clip.mkv                      # lossless FFV1 in Matroska
  lic video decode clip.licv clip.y4m --keep-going         # write what survives a damaged stream
  lic video train --clips a.mkv --clips b.mkv --stills ../shared/datasets/train --out runs/v";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub command: VideoCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum VideoCommand {
    /// Encode a video (any container/codec FFmpeg reads) into a .licv stream.
    Encode(encode::Args),
    /// Decode a .licv stream to .y4m or lossless FFV1 .mkv.
    Decode(decode::Args),
    /// Train a video model's temporal prior over a frozen image model.
    Train(Box<train::Args>),
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<()> {
    match args.command {
        VideoCommand::Encode(a) => encode::run(a, global),
        VideoCommand::Decode(a) => decode::run(a, global),
        VideoCommand::Train(a) => train::run(*a, global),
    }
}

/// Finds and loads a video model by name or path.
fn load_video_model(name: &str) -> anyhow::Result<lic::video::model::VideoModel> {
    let path = lic::video::model::VideoModel::find(name)?;
    lic::video::model::VideoModel::load(&path, tch::Device::Cpu)
        .map_err(|e| anyhow::anyhow!("loading video model {}: {e}", path.display()))
}
